"""CLIPN's "no" text tower: a trainable copy of an open_clip CLIP text tower with learnable prompt offsets.

Paper: H. Wang, Y. Li, H. Yao, X. Li, "CLIPN for Zero-Shot OOD Detection: Teaching CLIP to Say No", ICCV 2023.
Reference: ``xmed-lab/CLIPN`` ``src/open_clip/model.py`` and ``factory.py``; docs/clipn.md; deviations CN-2, CN-3,
CN-4, CN-5 (docs/reference_deviations.md).

The tower is built by composition from the public text submodules of a loaded open_clip ``CLIP`` model (token
embedding, positional embedding, transformer, final norm, projection, causal mask, pooling) -- deep copies, so at
build the "no" tower equals the "yes" tower (h = g for every caption). It adds ``prompt_no``, **(P, L, W)
additive offsets** (P = 16 prompts, L = the context length, W = the width; zeros at build): the embedded tokens of
a text are ``TokEmb(t) + Pos + Q`` with

* training: ``Q = [P_0, ..., P_{P-1}, mean_m P_m][k]``, ``k ~ Uniform{0..P}`` per sample (the reference draws from
  numpy's global RNG: CN-3). mmood draws ``k`` as a function of (seed, key) where the caller gives a key per sample
  (the classifier: its training step and the sample's index), so the draws are the same under any number of
  processes and after a resume; without keys from a seeded torch generator;
* evaluation: ``Q = mean_m P_m``.

With ``num_prompts=0`` the tower has no offsets (CLIPN's hand-crafted variant, ``xmed-lab/CLIPN`` folder
``hand-crafted/src``): it encodes ``TokEmb(t) + Pos`` directly, and the "no" meaning comes from the texts it is given
(hand-written "no" templates, see :class:`~mmood.models.classifiers.CLIPNClassifier`).

The offsets cover every position (SOT, words, EOT, padding); those after EOT cannot change the output (causal
mask). The encoder then runs the copied transformer exactly as the host model's ``encode_text`` does.
"""
import copy
import hashlib
import struct
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['NoTextTower', 'NoTextEncoder']

#: the copied submodules / parameters of an open_clip ``CLIP`` text tower
TEXT_PARTS = ('token_embedding', 'positional_embedding', 'transformer', 'ln_final', 'text_projection')


def _pool(x: torch.Tensor, tokens: torch.Tensor, pool_type: str, eos_id: Optional[int]) -> torch.Tensor:
    """open_clip's text pooling (its public ``text_global_pool`` where the installed version has it)."""
    try:
        from open_clip.transformer import text_global_pool
    except ImportError:  # older open_clip: argmax pooling (the EOT id is the largest)
        return x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]
    return text_global_pool(x, tokens, pool_type, eos_token_id=eos_id)


class NoTextTower(nn.Module):
    """The "no" text tower of CLIPN (see the module docstring).

    Args:
        clip: a loaded open_clip ``CLIP`` model (the "yes" model); its text parts are deep-copied.
        num_prompts: P, the number of learnable prompt offsets (16 in CLIPN; 0: none, the hand-crafted variant).
        seed: seed of the generator that draws a prompt per training sample.

    Raises:
        TypeError: ``clip`` is not an open_clip ``CLIP`` with its own text tower (e.g. ``CustomTextCLIP``).
    """

    def __init__(self, clip: nn.Module, num_prompts: int = 16, seed: int = 0):
        super().__init__()
        missing = [p for p in TEXT_PARTS if not hasattr(clip, p)]
        if missing or not hasattr(clip, 'attn_mask'):
            raise TypeError(f'CLIPN needs an open_clip CLIP model with its own text tower ({", ".join(TEXT_PARTS)}); '
                            f'{type(clip).__name__} has none of {missing or ["attn_mask"]} (CustomTextCLIP models '
                            f'with Hugging Face text towers are not supported).')
        if int(num_prompts) < 0:
            raise ValueError(f'num_prompts must be >= 0, got {num_prompts}')
        self.token_embedding = copy.deepcopy(clip.token_embedding)
        self.positional_embedding = nn.Parameter(clip.positional_embedding.detach().clone())
        self.transformer = copy.deepcopy(clip.transformer)
        self.ln_final = copy.deepcopy(clip.ln_final)
        proj = clip.text_projection
        self.text_projection = copy.deepcopy(proj) if isinstance(proj, nn.Module) else (
            nn.Parameter(proj.detach().clone()) if proj is not None else None)
        self.register_buffer('attn_mask', clip.attn_mask.detach().clone() if clip.attn_mask is not None else None,
                             persistent=False)
        self.pool_type = getattr(clip, 'text_pool_type', 'argmax')
        self.eos_id = getattr(clip, 'text_eos_id', None)
        self.context_length, width = self.positional_embedding.shape
        if int(num_prompts) > 0:
            self.prompt_no = nn.Parameter(torch.zeros(int(num_prompts), self.context_length, width,
                                                      dtype=self.positional_embedding.dtype))
        else:  # the hand-crafted variant: no offsets
            self.register_parameter('prompt_no', None)
        self.requires_grad_(True)
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    @property
    def num_prompts(self) -> int:
        return 0 if self.prompt_no is None else int(self.prompt_no.shape[0])

    @property
    def device(self) -> torch.device:
        return self.positional_embedding.device

    def draw(self, batch: int, choices: int, keys: Optional[Sequence[Tuple[int, ...]]] = None) -> torch.Tensor:
        """``batch`` indices uniform on ``0..choices-1``.

        Args:
            batch: the batch size.
            choices: the number of choices.
            keys: one tuple of integers per sample (e.g. (step, sample index)): the index is a hash of (seed, key),
                independent of the batch's composition and of the process. None: the seeded torch generator.
        """
        if keys is None:
            return torch.randint(0, choices, (batch, ), generator=self.generator)
        if len(keys) != batch:
            raise ValueError(f'{len(keys)} prompt keys for a batch of {batch}')
        out = []
        for key in keys:
            values = (self.seed, ) + tuple(int(v) for v in key)
            digest = hashlib.blake2b(struct.pack(f'<{len(values)}q', *values), digest_size=8).digest()
            out.append(int.from_bytes(digest, 'little') % choices)
        return torch.tensor(out, dtype=torch.long)

    def draw_prompts(self, batch: int, keys: Optional[Sequence[Tuple[int, ...]]] = None) -> torch.Tensor:
        """Prompt indices for a training batch, uniform on ``0..P`` (``P`` = the mean prompt); see :meth:`draw`."""
        return self.draw(batch, self.num_prompts + 1, keys)

    def offsets(self, batch: int, prompt_index: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
        """(B, L, W) offsets: the drawn (or given) prompts in training, the mean prompt in evaluation; None
        without prompts."""
        if self.prompt_no is None:
            return None
        mean = self.prompt_no.mean(dim=0, keepdim=True)
        if prompt_index is None and not self.training:
            return mean.expand(batch, -1, -1)
        if prompt_index is None:
            prompt_index = self.draw_prompts(batch)
        choices = torch.cat([self.prompt_no, mean])
        return choices[prompt_index.to(choices.device)]

    def forward(self, tokens: torch.Tensor, prompt_index: Optional[torch.Tensor] = None,
                normalize: bool = True) -> torch.Tensor:
        """Encode token ids (B, L) into "no" text embeddings (B, D), unit norm by default.

        Args:
            tokens: token ids as open_clip's tokenizer returns them.
            prompt_index: (B,) indices in ``0..P`` to use instead of the training draw (P = the mean prompt);
                ignored without prompts.
            normalize: L2-normalise the output.
        """
        cast = self.transformer.get_cast_dtype() if hasattr(self.transformer, 'get_cast_dtype') \
            else self.positional_embedding.dtype
        x = self.token_embedding(tokens).to(cast) + self.positional_embedding.to(cast)
        offsets = self.offsets(tokens.shape[0], prompt_index)
        if offsets is not None:
            x = x + offsets.to(cast)
        batch_first = getattr(self.transformer, 'batch_first', True)
        if not batch_first:
            x = x.permute(1, 0, 2)
        x = self.transformer(x, attn_mask=self.attn_mask)
        if not batch_first:
            x = x.permute(1, 0, 2)
        x = self.ln_final(x)
        x = _pool(x, tokens, self.pool_type, self.eos_id)
        if isinstance(self.text_projection, nn.Module):
            x = self.text_projection(x)
        elif self.text_projection is not None:
            x = x @ self.text_projection
        x = x.float()
        return F.normalize(x, dim=-1) if normalize else x

    @property
    def untrained(self) -> bool:
        """Whether the prompt offsets are still all zero (the no tower then equals the yes tower); without prompts
        see :meth:`equals_text_tower`."""
        return self.prompt_no is None or not bool(self.prompt_no.detach().any())

    def equals_text_tower(self, clip: nn.Module) -> bool:
        """Whether every copied part still equals ``clip``'s text tower (an untrained tower of the hand-crafted
        variant: h = g for equal texts)."""
        for part in TEXT_PARTS:
            mine, theirs = getattr(self, part), getattr(clip, part)
            if isinstance(mine, nn.Module):
                a, b = mine.state_dict(), theirs.state_dict()
                if a.keys() != b.keys() or any(not torch.equal(a[k], b[k].to(a[k].device)) for k in a):
                    return False
            elif mine is not None and not torch.equal(mine.detach(), theirs.detach().to(mine.device)):
                return False
        return True

    def content_digest(self) -> str:
        """SHA-256 (24 hex digits) of every parameter and buffer: part of the cache key of its text embeddings."""
        h = hashlib.sha256()
        for name, value in sorted(self.state_dict().items()):
            h.update(name.encode())
            h.update(str(tuple(value.shape)).encode())
            h.update(value.detach().cpu().contiguous().float().numpy().tobytes())
        return h.hexdigest()[:24]


class NoTextEncoder:
    """The "no" tower with the text interface of :class:`~mmood.models.backbones.OpenCLIPBackbone`
    (``encode_text``, ``text_identity``), so the cached text-embedding functions of
    :mod:`mmood.text` encode prompts with it unchanged (evaluation mode: the mean prompt).

    Args:
        tower: the :class:`NoTextTower`.
        backbone: the backbone whose tokenizer and identity it shares.
    """

    def __init__(self, tower: NoTextTower, backbone):
        self.tower = tower
        self.backbone = backbone

    @property
    def text_identity(self) -> dict:
        """The backbone's text identity plus the tower's content digest (trained weights change the key)."""
        return dict(self.backbone.text_identity, tower='clipn_no', no_tower=self.tower.content_digest())

    def encode_text(self, texts: Sequence[str], batch_size: int = 256, progress: bool = False,
                    desc: str = 'encoding "no" prompts', normalize: bool = True) -> torch.Tensor:
        """Evaluation-mode "no" embeddings of ``texts`` (float32, on the tower's device): the backbone's batching
        loop with the no tower as the encoder."""
        was_training = self.tower.training
        self.tower.eval()
        try:
            with torch.no_grad():
                return self.backbone.encode_text(texts, batch_size, progress, desc, normalize,
                                                 encode=lambda tokens: self.tower(tokens, normalize=False))
        finally:
            self.tower.train(was_training)


#: the released CLIPN checkpoints' "no" keys (fork of open_clip 2.0.2, ``module.``-prefixed) -> NoTextTower keys
OFFICIAL_NO_PREFIXES = (('transformer_no.', 'transformer.'), ('token_embedding_no.', 'token_embedding.'),
                        ('ln_final_no.', 'ln_final.'))
OFFICIAL_NO_KEYS = (('positional_embedding_no', 'positional_embedding'), ('text_projection_no', 'text_projection'),
                    ('prompt_no', 'prompt_no'))


def split_official_clipn_state(state: dict) -> Tuple[dict, dict]:
    """Split a released CLIPN ``state_dict`` into (no-tower state with :class:`NoTextTower` keys, the rest: the
    open_clip model's state). A leading ``module.`` (DDP) is removed from every key.

    Raises:
        KeyError: the checkpoint has no "no" tower keys (not a CLIPN checkpoint).
    """
    tower, rest = {}, {}
    for key, value in state.items():
        key = key[len('module.'):] if key.startswith('module.') else key
        mapped = next((new + key[len(old):] for old, new in OFFICIAL_NO_PREFIXES if key.startswith(old)), None)
        if mapped is None:
            mapped = dict(OFFICIAL_NO_KEYS).get(key)
        if mapped is None:
            rest[key] = value
        else:
            tower[mapped] = value
    if not tower:
        raise KeyError('No CLIPN "no" tower keys (transformer_no.*, token_embedding_no.weight, prompt_no, ...) in the '
                       'checkpoint: it is not a CLIPN training checkpoint.')
    return tower, rest
