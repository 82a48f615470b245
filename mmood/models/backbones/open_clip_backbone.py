"""The one open_clip wrapper every mmood method goes through.

It exposes, for any open_clip model name and pretrained tag (or local checkpoint file):

* ``global``   -- L2-normalised projected image embedding ``h`` (what CLIP compares with text);
* ``local``    -- L2-normalised projected patch embeddings ``h_ij`` (GL-MCM; ViT towers only), computed from
  the last block's value path with attention replaced by the identity (GL-MCM, Miyai et al. 2023);
* ``pre_proj`` -- the pooled image feature before the projection (after ``ln_post``), as PLP caches it; for
  towers without a separate ``proj`` (ModifiedResNet, timm towers) this equals the un-normalised projected
  feature, and :attr:`pre_proj_kind` says so;
* ``tokens``   -- the token sequence (B, L, W) entering the first trainable block (``trainable_blocks``; NPOS caches
  it and trains the last blocks on it), see :meth:`OpenCLIPBackbone.trunk_tokens`;
* text embeddings with prompt templates (single template or ensemble).

No weights are downloaded when ``HF_HUB_OFFLINE=1``: a missing file raises :class:`MissingWeightsError`, whose
message names the file to fetch and the option to set.
"""
import difflib
import functools
import json
import logging
import os.path as osp
import tempfile
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmpretrain.registry import MODELS

from ...cache import file_identity
from ...utils.errors import ConfigError, UserError
from .base import BaseOODBackbone, MissingWeightsError, resolve_precision
from .weights import QUICK_GELU, load_openai_weights, openai_format, openai_state_dict, resolve_activation

FEATURE_KINDS = ('global', 'local', 'pre_proj', 'tokens', 'embed')


class PretrainedMismatchError(UserError, ValueError):
    """The ``pretrained`` file is not open_clip weights of ``model_name`` (the message says what it is)."""


def describe_weights_file(path: str, model_name: str, err: Exception) -> str:
    """Why a ``pretrained`` file failed to load into ``model_name``, and the fix."""
    import open_clip

    from ...utils import checkpoint_state_dict, load_checkpoint_file
    option = 'model.backbone.pretrained'
    head = f'{path} cannot be loaded as the open_clip weights of {model_name} (`{option}`): '
    try:
        state = openai_state_dict(path) if openai_format(path) else checkpoint_state_dict(load_checkpoint_file(path))
    except Exception as read_err:  # not a checkpoint at all
        return head + f'it is not a readable weights file ({type(read_err).__name__}: {read_err}).'
    keys = list(state)
    if any(k.startswith('backbone.clip.') for k in keys):
        return head + ('it is a training checkpoint of a whole mmood CLIP model (keys backbone.clip.*). Export its '
                       f'weights with python tools/export_clip_weights.py {path} OUT.pth and set {option}=OUT.pth, '
                       'or pass the checkpoint itself as the CHECKPOINT argument of tools/test.py.')
    if 'head.fc.weight' in state:
        return head + ('it is a PLP linear-probe checkpoint, not CLIP weights: pass it as the CHECKPOINT argument '
                       'of a configs/plp/plp_*.py run.')
    if any(k.startswith(('text_model.', 'vision_model.')) for k in keys):
        return head + ('it is a Hugging Face transformers CLIPModel file (keys text_model.* / vision_model.*), which '
                       'open_clip does not load. Convert it: python tools/model_converters/hf_clip_to_open_clip.py '
                       f'{path} OUT.pth and set {option}=OUT.pth; or load it with an HFVLMBackbone config '
                       '(model.backbone=dict(type=\'HFVLMBackbone\', model_id=FOLDER)); see docs/backbones.md.')
    reference = open_clip.create_model(model_name, pretrained=None, device='cpu').state_dict()
    mismatched = [(k, tuple(v.shape), tuple(reference[k].shape)) for k, v in state.items()
                  if k in reference and hasattr(v, 'shape') and tuple(v.shape) != tuple(reference[k].shape)]
    unknown = [k for k in keys if k not in reference]
    if mismatched or unknown:
        detail = ('; '.join(f'{k} {a} in the file vs {b}' for k, a, b in mismatched[:3])
                  or f'{len(unknown)} keys {unknown[:4]} unknown to {model_name}')
        return head + (f'these are weights of another architecture ({detail}). Set model.backbone.model_name to the '
                       f'architecture they were trained as (and model_cfg for a custom one).')
    return head + f'{type(err).__name__}: {err}'


def register_model_config(name: str, model_cfg: dict) -> None:
    """Register an open_clip model config (e.g. a tiny test tower) under ``name``.

    Args:
        name: model name to register; later ``open_clip.create_model(name)`` builds it.
        model_cfg: the open_clip config dict (``embed_dim``, ``vision_cfg``, ``text_cfg``...).
    """
    import open_clip
    if name in open_clip.list_models():
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = osp.join(tmp, f'{name}.json')
        with open(path, 'w') as f:
            json.dump(model_cfg, f)
        open_clip.add_model_config(path)


@functools.lru_cache(maxsize=16)
def _tokenizer_for(model_name: str, text_cfg: str) -> Callable:
    import open_clip
    return open_clip.get_tokenizer(model_name)


def shared_tokenizer(model_name: str) -> Callable:
    """``open_clip.get_tokenizer(model_name)``, built once per model name and text config and shared: building
    the BPE tokenizer reads and parses its vocabulary (about 0.1 s), every time a model is built otherwise. The key
    includes the registered ``text_cfg``, so a name registered again with another text config gets its own."""
    import open_clip
    text_cfg = (open_clip.get_model_config(model_name) or {}).get('text_cfg', {})
    return _tokenizer_for(model_name, json.dumps(text_cfg, sort_keys=True, default=str))


def resolve_pretrained(model_name: str, pretrained: Optional[str]) -> Optional[str]:
    """Return a local file for ``pretrained`` (a tag or a path), or raise a clear error.

    Args:
        model_name: open_clip model name.
        pretrained: ``None``/``''`` (random init), an open_clip tag such as ``'openai'``, or a file path.

    Returns:
        The local checkpoint path, or None for random initialisation.

    Raises:
        MissingWeightsError: the file is not present and cannot be downloaded.
        ValueError: the tag is unknown for this model.
    """
    import open_clip
    if not pretrained:
        return None
    if osp.isfile(osp.expanduser(pretrained)):
        return osp.expanduser(pretrained)
    cfg = open_clip.get_pretrained_cfg(model_name, pretrained)
    option = 'model.backbone.pretrained'
    if not cfg:
        if any(sep in pretrained for sep in ('/', '\\')) or pretrained.endswith(('.pt', '.bin', '.pth',
                                                                                 '.safetensors')):
            raise MissingWeightsError(
                f'Checkpoint file "{pretrained}" for {model_name} does not exist. Put the file there or set '
                f'`{option}` (e.g. --cfg-options {option}=/path/to/weights.bin).')
        tags = open_clip.list_pretrained_tags_by_model(model_name)
        raise ValueError(f'Unknown pretrained tag "{pretrained}" for open_clip model {model_name}; known tags: '
                         f'{tags}. Or set `{option}` to a local checkpoint file.')
    try:
        return open_clip.download_pretrained(cfg)
    except Exception as err:  # offline: huggingface_hub / urllib errors of many kinds
        where = []
        if cfg.get('hf_hub'):
            repo = cfg['hf_hub'].rstrip('/')
            where.append(f'https://huggingface.co/{repo} (file open_clip_pytorch_model.bin or '
                         f'open_clip_model.safetensors)')
        if cfg.get('url'):
            where.append(cfg['url'])
        raise MissingWeightsError(
            f'Weights for open_clip {model_name} / "{pretrained}" are not available offline ({type(err).__name__}). '
            f'Download {" or ".join(where) or "the checkpoint"} to e.g. checkpoints/{model_name}_{pretrained}.bin '
            f'and set `{option}=checkpoints/{model_name}_{pretrained}.bin` (via --cfg-options or the config), '
            f'or run once with network access so the Hugging Face cache holds it.') from err


def locate_weights(model_name: str, pretrained: Optional[str] = None, activation: Optional[str] = None
                   ) -> Tuple[Optional[str], str, str]:
    """Where a backbone's weights are and which activation it will be built with, without building it (what
    :class:`OpenCLIPBackbone` does first; ``tools/verify_data.py --check-weights`` and the reproduce checks call it).

    Args:
        model_name: open_clip model name (registered already, for a custom ``model_cfg``).
        pretrained: a tag, a file path or None.
        activation: the config's ``activation`` (None: from the weights).

    Returns:
        ``(file or None, activation, why)``.

    Raises:
        MissingWeightsError: the file is not present and cannot be downloaded.
        ValueError: an unknown tag or activation.
        ConfigError: the activation cannot be told or contradicts the weights (:func:`resolve_activation`).
    """
    import open_clip
    checkpoint = resolve_pretrained(model_name, pretrained)
    resolved, why = resolve_activation(model_name, pretrained, checkpoint, activation,
                                       open_clip.get_model_config(model_name) or {})
    return checkpoint, resolved, why


@MODELS.register_module()
class OpenCLIPBackbone(BaseOODBackbone):
    """A frozen (by default) open_clip model with the feature views mmood needs.

    Args:
        model_name: open_clip model name, e.g. ``'ViT-B-16'``.
        pretrained: open_clip pretrained tag (``'openai'``, ``'laion2b_s34b_b88k'``...) or a local checkpoint
            file; ``None`` for random weights (tests).
        activation: ``'quick_gelu'`` (OpenAI's CLIP), ``'gelu'`` (LAION, DataComp...) or None (default): what the
            weights need, from the tag's open_clip pretrained config or the file (an OpenAI TorchScript archive or
            state dict, an ``open_clip_config.json`` beside it); see :mod:`mmood.models.backbones.weights`. Stating
            it is checked against what the weights need (a contradiction is a :class:`ConfigError`), and is required
            for a file that does not say, of an architecture open_clip has with both activations. Every shipped
            real-weight config states it.
        precision: ``'fp32'`` (default), ``'fp16'`` or ``'bf16'``. fp16 without CUDA falls back to fp32 with a
            logged warning (CPU fp16 matmuls are slow or unsupported).
        model_cfg: optional open_clip config dict registered under ``model_name`` before building (tiny towers,
            custom architectures).
        frozen: freeze all parameters and keep the model in eval mode.
        trainable_blocks: fine-tune only the last ``n`` transformer blocks of the image tower plus its ``ln_post``
            and ``proj`` (NPOS: 2, i.e. blocks 10 and 11 of ViT-B/16, or both blocks of the 2-block tiny tower);
            everything else -- patch embedding, class and positional embeddings, ``ln_pre``, the first blocks (the
            *trunk*) and the text tower -- is frozen and stays in eval mode, and the trunk runs under
            ``torch.no_grad()`` (:meth:`trunk_tokens`, :meth:`tokens_to_features`). Needs a standard CLS-token
            open_clip ViT and ``frozen=False`` (explicitly: ``frozen=True``, the default, together with
            ``trainable_blocks > 0`` is a :class:`ConfigError`, as the classifiers read ``frozen`` to leave the
            tower out of checkpoints). 0 (default): the whole model is frozen or trainable as ``frozen`` says.
        init_cfg: mmengine init config (unused; weights come from open_clip).
    """

    feature_kinds = FEATURE_KINDS

    def __init__(self,
                 model_name: str,
                 pretrained: Optional[str] = None,
                 activation: Optional[str] = None,
                 precision: str = 'fp32',
                 model_cfg: Optional[dict] = None,
                 frozen: bool = True,
                 trainable_blocks: int = 0,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        import open_clip
        if isinstance(trainable_blocks, bool) or not isinstance(trainable_blocks, int) or trainable_blocks < 0:
            raise ConfigError(f'model.backbone.trainable_blocks must be an integer >= 0, got {trainable_blocks!r}')
        if trainable_blocks and frozen:
            raise ConfigError(f'model.backbone.trainable_blocks={trainable_blocks} fine-tunes the last '
                              f'{trainable_blocks} blocks of the image tower, but model.backbone.frozen=True (the '
                              f'default) freezes everything: set model.backbone.frozen=False as well (the trunk '
                              f'and the text tower stay frozen).')
        if model_cfg is not None:
            register_model_config(model_name, model_cfg)
        known = open_clip.list_models()
        if model_name not in known:
            close = difflib.get_close_matches(model_name, known, n=5)
            raise ConfigError(f'Unknown open_clip model name "{model_name}" (model.backbone.model_name). '
                              f'Closest known names: {close}. Pass `model_cfg` to register a custom architecture.')
        precision = resolve_precision(precision)
        self.model_name = model_name
        self.pretrained = pretrained
        self.precision = precision
        self.frozen = frozen
        self.trainable_blocks = trainable_blocks
        ckpt, self.activation, why = locate_weights(model_name, pretrained, activation)
        if ckpt is None:
            print_log(f'open_clip {model_name}: random weights (no `pretrained` given).', logger='current',
                      level=logging.WARNING)
        else:
            print_log(f'open_clip {model_name}: {self.activation} activation ({why}).', logger='current')
        openai_file = ckpt is not None and openai_format(ckpt) is not None  # open_clip's loader takes neither
        try:
            self.clip = open_clip.create_model(model_name, pretrained=None if openai_file else ckpt,
                                               precision=precision, device='cpu',
                                               quick_gelu=self.activation == QUICK_GELU)
            if openai_file:
                load_openai_weights(self.clip, ckpt)
        except Exception as err:  # open_clip's own messages do not say what the file is or what to do
            if ckpt is None or not osp.isfile(ckpt):
                raise
            raise PretrainedMismatchError(describe_weights_file(ckpt, model_name, err)) from err
        self.weights_id = file_identity(ckpt) if ckpt else 'random'
        self.tokenizer = shared_tokenizer(model_name)
        if frozen:
            self.clip.requires_grad_(False)
            self.clip.eval()
        elif trainable_blocks:
            self._require_cls_vit(f'model.backbone.trainable_blocks={trainable_blocks}')
            num_blocks = len(self.clip.visual.transformer.resblocks)
            if trainable_blocks > num_blocks:
                raise ConfigError(f'model.backbone.trainable_blocks={trainable_blocks}, but the image tower of '
                                  f'{model_name} has only {num_blocks} transformer blocks.')
            self.clip.requires_grad_(False)
            for module in self._trainable_modules():
                module.requires_grad_(True)
            if self.clip.visual.proj is not None:
                self.clip.visual.proj.requires_grad_(True)
            self.train(self.training)

    @classmethod
    def weights_report(cls, cfg: dict) -> str:
        """The weights file and the activation the config will be built with (:func:`locate_weights`)."""
        name, pretrained = cfg.get('model_name'), cfg.get('pretrained')
        if cfg.get('model_cfg'):
            register_model_config(name, dict(cfg['model_cfg']))
        path, activation, why = locate_weights(name, pretrained, cfg.get('activation'))
        return f'{name} / {pretrained}: {path or "random initialisation"}; activation {activation} ({why})'

    # ------------------------------------------------------------------ identity
    @property
    def identity(self) -> dict:
        """What determines the features: part of every cache key."""
        import open_clip
        ident = dict(model_name=self.model_name, pretrained=self.pretrained or None, weights=self.weights_id,
                     activation=self.activation, open_clip=open_clip.__version__, precision=self.precision)
        if self.trainable_blocks:  # where the trunk ends: what the ``tokens`` kind is (absent for 0: old keys hold)
            ident['trainable_blocks'] = self.trainable_blocks
        return ident

    @property
    def embed_dim(self) -> int:
        return int(self.clip.text_projection.shape[1]) if hasattr(self.clip, 'text_projection') and \
            isinstance(self.clip.text_projection, torch.Tensor) else int(self.clip.visual.output_dim)

    @property
    def logit_scale(self) -> torch.Tensor:
        return self.clip.logit_scale.exp()

    @property
    def projection(self) -> Optional[torch.Tensor]:
        """The image tower's ``proj`` (D_pre, D), detached; None for towers without one (ModifiedResNet, timm
        towers: their pooled feature is already projected)."""
        proj = getattr(self.clip.visual, 'proj', None)
        return proj.detach() if isinstance(proj, torch.Tensor) else None

    def feature_dim(self, kind: str) -> int:
        if kind == 'pre_proj' and self.projection is None:
            return int(self.clip.visual.output_dim)
        return super().feature_dim(kind)

    def train(self, mode: bool = True):
        """The frozen part (all of ``clip`` when ``frozen``; the trunk and the text tower with
        ``trainable_blocks``) stays in eval mode; the trainable blocks and ``ln_post`` follow ``mode``."""
        super().train(mode)
        if self.frozen or self.trainable_blocks:
            self.clip.eval()
        for module in self._trainable_modules():
            module.train(mode)
        return self

    def _trainable_modules(self) -> List[torch.nn.Module]:
        """With ``trainable_blocks`` = n > 0: the last n blocks of the image tower and its ``ln_post`` (``proj`` is a
        bare parameter); else empty."""
        if not self.trainable_blocks:
            return []
        visual = self.clip.visual
        return list(visual.transformer.resblocks[-self.trainable_blocks:]) + [visual.ln_post]

    @property
    def dtype(self) -> torch.dtype:
        return next(self.clip.parameters()).dtype

    # ------------------------------------------------------------------ image side
    def _is_standard_vit(self) -> bool:
        from open_clip.transformer import ResidualAttentionBlock, VisionTransformer
        visual = self.clip.visual
        return isinstance(visual, VisionTransformer) and all(
            isinstance(b, ResidualAttentionBlock) and isinstance(b.attn, torch.nn.MultiheadAttention)
            for b in visual.transformer.resblocks)

    def _cls_vit_problem(self) -> Optional[str]:
        """Why the image tower cannot be cut into a trunk and trainable blocks; None when it can."""
        from open_clip.transformer import VisionTransformer
        visual = self.clip.visual
        if not isinstance(visual, VisionTransformer):
            return f'its image tower is {type(visual).__name__}, not an open_clip VisionTransformer'
        if not self._is_standard_vit():
            kinds = sorted({type(b).__name__ for b in visual.transformer.resblocks})
            return f'its ViT is built of {kinds} blocks'
        if getattr(visual, 'attn_pool', None) is not None:
            return 'its ViT pools with an attentional pooler'
        if getattr(visual, 'pool_type', 'tok') != 'tok':
            return f'its ViT pools with pool_type={visual.pool_type!r}'
        return None

    def _require_cls_vit(self, what: str) -> None:
        problem = self._cls_vit_problem()
        if problem:
            raise ConfigError(f'{what} needs a standard CLS-token open_clip ViT image tower (VisionTransformer of '
                              f"ResidualAttentionBlocks, class-token pooling (pool_type='tok'), no attentional "
                              f'pooler); {self.model_name}: {problem}.')

    @property
    def _split(self) -> int:
        """Index of the first trainable block (the number of blocks the trunk runs; all of them for 0)."""
        return len(self.clip.visual.transformer.resblocks) - self.trainable_blocks

    def trunk_tokens(self, images: torch.Tensor) -> torch.Tensor:
        """The frozen trunk, under ``torch.no_grad()``: the tokens entering the first trainable block.

        That is open_clip's forward up to there: patch embedding, class token, positional embedding, patch dropout
        (the identity: the trunk is always in eval mode), ``ln_pre`` and the first ``L - trainable_blocks`` blocks
        (with ``trainable_blocks=0``: all blocks, i.e. the tokens entering pooling and ``ln_post``). This is the
        ``tokens`` feature kind; NPOS caches it (ViT-B/16, ``trainable_blocks=2``: the output of block 9, 197 x 768
        per image, 302,592 bytes in float16 storage).

        Args:
            images: normalised images (B, 3, H, W).

        Returns:
            (B, L, W) batch-first (whatever the tower's layout), in the model's dtype, without grad.
        """
        self._require_cls_vit('trunk_tokens (the "tokens" feature kind)')
        visual = self.clip.visual
        batch_first = getattr(visual.transformer, 'batch_first', True)
        with torch.no_grad():
            x = visual._embeds(images.to(self.dtype))
            blocks = visual.transformer.resblocks[:self._split]
            if len(blocks) and not batch_first:
                x = x.transpose(0, 1).contiguous()  # NLD -> LND, as open_clip's Transformer.forward
                for block in blocks:
                    x = block(x)
                x = x.transpose(0, 1).contiguous()
            else:
                for block in blocks:
                    x = block(x)
        return x

    def tokens_to_features(self, tokens: torch.Tensor,
                           kinds: Iterable[str] = ('global', 'pre_proj')) -> Dict[str, torch.Tensor]:
        """The trainable part on :meth:`trunk_tokens`'s output: the last ``trainable_blocks`` blocks, class-token
        pooling, ``ln_post`` and ``proj``; differentiable (runs under the caller's grad mode).

        Args:
            tokens: (B, L, W) batch-first, e.g. cached in float16 (cast to the model's dtype and device here).
            kinds: subset of ``('global', 'pre_proj', 'embed', 'local')``.

        Returns:
            dict with the requested kinds, float32: ``global`` (B, D) unit norm (equals
            :meth:`extract_image_features`'s), ``pre_proj`` (B, W) pooled after ``ln_post``, ``embed`` (B, D) the
            un-normalised projected embedding (what NPOS's queues hold), ``local`` (B, P, D) as in
            :meth:`extract_image_features` (needs ``trainable_blocks >= 1``).
        """
        kinds = tuple(kinds)
        allowed = ('global', 'pre_proj', 'embed', 'local')
        unknown = set(kinds) - set(allowed)
        if unknown:
            raise ValueError(f'Unknown kinds {sorted(unknown)} for tokens_to_features; choose from {allowed}')
        self._require_cls_vit('tokens_to_features')
        visual = self.clip.visual
        blocks = visual.transformer.resblocks[self._split:]
        batch_first = getattr(visual.transformer, 'batch_first', True)
        x = tokens.to(device=visual.conv1.weight.device, dtype=self.dtype)
        if not batch_first:
            x = x.transpose(0, 1).contiguous()
        out = {}
        if 'local' in kinds:
            if not len(blocks):
                raise ConfigError('local features from tokens need the last block trainable (the tokens entering '
                                  'it); with trainable_blocks=0 the tokens are the output of the last block.')
            for block in blocks[:-1]:
                x = block(x)
            out['local'] = self._local_value_path(blocks[-1], x, batch_first)
            blocks = blocks[-1:]
        if set(kinds) - {'local'}:
            for block in blocks:
                x = block(x)
            if not batch_first:
                x = x.transpose(0, 1)
            pooled, _ = visual._pool(x)
            if 'pre_proj' in kinds:
                out['pre_proj'] = pooled.float()
            proj = (pooled @ visual.proj if visual.proj is not None else pooled).float()
            if 'embed' in kinds:
                out['embed'] = proj
            if 'global' in kinds:
                out['global'] = F.normalize(proj, dim=-1)
        return out

    def extract_image_features(self, images: torch.Tensor,
                               kinds: Iterable[str] = ('global', )) -> Dict[str, torch.Tensor]:
        """Image features in float32.

        Args:
            images: normalised images (B, 3, H, W).
            kinds: subset of ``('global', 'local', 'pre_proj', 'tokens', 'embed')``.

        Returns:
            dict with the requested kinds: ``global`` (B, D) unit norm, ``local`` (B, P, D) unit norm,
            ``pre_proj`` (B, W) raw, ``embed`` (B, D) the projected embedding before normalisation (NPOS's queues and
            outlier MLP read it), ``tokens`` (B, L, W) the tokens entering the first trainable block
            (:meth:`trunk_tokens`; CLS-token ViTs only). ``tokens`` is large: L x W x 2 bytes per image in float16
            storage, 197 x 768 x 2 = 302,592 bytes on ViT-B/16 (twice that in float32).

        With ``trainable_blocks`` > 0 this is :meth:`tokens_to_features` on :meth:`trunk_tokens` (the same
        ``global``, bit for bit); the trainable blocks run under the caller's grad mode.
        """
        kinds = tuple(kinds)
        unknown = set(kinds) - set(FEATURE_KINDS)
        if unknown:
            raise ValueError(f'Unknown feature kinds {sorted(unknown)}; choose from {FEATURE_KINDS}')
        images = images.to(self.dtype)
        if self.trainable_blocks:
            tokens = self.trunk_tokens(images)
            out = {'tokens': tokens.float()} if 'tokens' in kinds else {}
            rest = tuple(k for k in kinds if k != 'tokens')
            if rest:
                out.update(self.tokens_to_features(tokens, rest))
            return out
        if 'tokens' in kinds:
            self._require_cls_vit('the "tokens" feature kind')
        if not self._is_standard_vit():
            if 'local' in kinds:
                raise NotImplementedError(
                    f'Local (patch) features are implemented for open_clip ViT towers only; {self.model_name} '
                    f'has {type(self.clip.visual).__name__}.')
            pooled = self.clip.visual(images)
            out = {'global': F.normalize(pooled.float(), dim=-1), 'pre_proj': pooled.float(), 'embed': pooled.float()}
            return {k: out[k] for k in kinds}
        visual = self.clip.visual
        x = visual._embeds(images)
        blocks = visual.transformer.resblocks
        batch_first = getattr(visual.transformer, 'batch_first', True)
        if not batch_first:
            x = x.transpose(0, 1)
        for block in blocks[:-1]:
            x = block(x)
        last = blocks[-1]
        out = {}
        if 'local' in kinds:
            out['local'] = self._local_value_path(last, x, batch_first)
        if 'global' in kinds or 'pre_proj' in kinds or 'tokens' in kinds or 'embed' in kinds:
            y = last(x)
            if not batch_first:
                y = y.transpose(0, 1)
            if 'tokens' in kinds:  # trainable_blocks=0: the tokens after the last block
                out['tokens'] = y.float()
            pooled, _ = visual._pool(y)
            if 'pre_proj' in kinds:
                out['pre_proj'] = pooled.float()
            if 'global' in kinds or 'embed' in kinds:
                proj = pooled @ visual.proj if visual.proj is not None else pooled
                if 'embed' in kinds:
                    out['embed'] = proj.float()
                if 'global' in kinds:
                    out['global'] = F.normalize(proj.float(), dim=-1)
        return out

    def _local_value_path(self, block, x: torch.Tensor, batch_first: bool) -> torch.Tensor:
        """GL-MCM local features: the last block with attention replaced by its value/output projections."""
        visual = self.clip.visual
        attn = block.attn
        width = attn.embed_dim
        y = block.ln_1(x)
        v = F.linear(y, attn.in_proj_weight[2 * width:], None if attn.in_proj_bias is None
                     else attn.in_proj_bias[2 * width:])
        v = attn.out_proj(v)
        z = x + block.ls_1(v)
        z = z + block.ls_2(block.mlp(block.ln_2(z)))
        if not batch_first:
            z = z.transpose(0, 1)
        z = visual.ln_post(z)[:, 1:]
        if visual.proj is not None:
            z = z @ visual.proj
        return F.normalize(z.float(), dim=-1)

    # ------------------------------------------------------------------ text side
    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        return self.tokenizer(list(texts))

    def _encode_batch(self, texts: Sequence[str]) -> torch.Tensor:
        return self.clip.encode_text(self.tokenize(texts).to(self.text_device))

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        """Projected image embeddings; differentiable when the backbone is trainable (CLIP training)."""
        emb = self.clip.encode_image(images.to(self.dtype)).float()
        return F.normalize(emb, dim=-1) if normalize else emb


def list_feature_kinds() -> List[str]:
    return list(FEATURE_KINDS)
