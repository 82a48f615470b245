"""The one interface every backbone of mmood implements (open_clip, Hugging Face transformers, timm).

The classifiers, heads, the feature cache and the text side read a backbone through these members only; nothing
reaches into the wrapped library's model (``backbone.clip``, ``backbone.model``) except the open_clip-only methods
that train inside the tower (CLIP fine-tuning, CLIPN, NPOS), which say so.

=============================  ===================================================================================
member                         meaning
=============================  ===================================================================================
``has_text``                   whether the model has a text tower (False: an image-only timm model; the methods
                               that need text refuse it with a :class:`~mmood.utils.errors.ConfigError`)
``identity``                   what determines the image features (part of every feature-cache key): the class,
                               name, tag or file identity, activation, feature point, preprocessing, precision
``text_identity``              what determines the text embeddings (part of every text-cache key)
``note_checkpoint(path)``      a checkpoint loaded over the weights (text-cache keys)
``frozen``                     whether every weight is frozen (checkpoints leave a frozen tower out)
``trainable_blocks``           last image blocks fine-tuned (open_clip ViTs; 0 elsewhere)
``pretrained``                 the tag / id / file the weights come from (None: random)
``embed_dim``                  width of the joint image-text space (``global``)
``logit_scale``                the model's own logit scale (exp of the stored log-scale)
``pre_proj_kind``              ``'pre_proj'`` when ``pre_proj`` sits before a separate projection, else
                               ``'post_proj'`` (already in the joint space)
``projection``                 the projection P (D_pre, D) from ``pre_proj`` to the joint space, or None
``feature_dim(kind)``          width of a pooled feature kind (``pre_proj``, ``global``, ``embed``)
``extract_image_features``     dict of float32 feature kinds of a batch of normalised images
``encode_image``               projected image embeddings (unit norm by default)
``encode_text``                text embeddings of strings, batched (unit norm by default)
``build_text_classifier``      class prototypes from class names and templates
=============================  ===================================================================================

Feature kinds: ``global`` (unit-norm joint-space embedding), ``pre_proj`` (pooled feature before the projection),
``embed`` (the projected embedding before normalisation); open_clip ViTs add ``local`` and ``tokens``.
"""
import logging
from typing import Callable, Dict, Iterable, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModule

from ...cache import file_identity
from ...utils.errors import ConfigError, UserError

__all__ = ['BaseOODBackbone', 'MissingWeightsError', 'PRECISIONS', 'resolve_precision']

#: the precisions a backbone can run in, and their dtypes
PRECISIONS = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}


def resolve_precision(precision: str) -> str:
    """The precision a backbone runs in: ``precision`` checked, fp16 without CUDA falling back to fp32 with a logged
    warning (CPU fp16 matmuls are slow or unsupported)."""
    if precision not in PRECISIONS:
        raise ConfigError(f'model.backbone.precision must be one of {tuple(PRECISIONS)}, got {precision!r}')
    if precision == 'fp16' and not torch.cuda.is_available():
        print_log('precision="fp16" needs a GPU; no CUDA device found, falling back to fp32.', logger='current',
                  level=logging.WARNING)
        return 'fp32'
    return precision


class MissingWeightsError(UserError, FileNotFoundError):
    """Raised when a backbone's weights are neither on disk nor downloadable; the message names the hub repository
    and file (or URL) to fetch, where to put it and the option to set."""


class BaseOODBackbone(BaseModule):
    """Base of every mmood backbone: the shared text-side batching and prototype rule, the checkpoint note, the
    declarations above. Subclasses implement :meth:`extract_image_features`, :meth:`encode_image`,
    :meth:`_encode_batch` (text) and the identity / width members."""

    #: whether the model has a text tower
    has_text: bool = True
    #: the feature kinds :meth:`extract_image_features` can return
    feature_kinds: tuple = ('global', 'pre_proj', 'embed')
    frozen: bool = True
    trainable_blocks: int = 0
    pretrained: Optional[str] = None
    precision: str = 'fp32'

    def __init__(self, init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.loaded_checkpoint = None  # identity of a checkpoint loaded on top of the weights (load_from)

    # ------------------------------------------------------------------ weights
    @classmethod
    def weights_report(cls, cfg: dict) -> str:
        """Where the weights of the backbone config ``cfg`` are, without building it or downloading anything
        (``tools/verify_data.py --check-weights``): one line naming the file (or "random initialisation").

        Raises:
            MissingWeightsError: the weights are not on disk; the message names the hub repository and file.
            ValueError: the config names an unknown model or tag.
        """
        raise NotImplementedError(f'{cls.__name__} does not report its weights')

    # ------------------------------------------------------------------ identity
    @property
    def identity(self) -> dict:
        raise NotImplementedError

    @property
    def text_identity(self) -> dict:
        """:attr:`identity` plus a checkpoint loaded on top of the weights (see :meth:`note_checkpoint`)."""
        ident = self.identity
        ident.pop('trainable_blocks', None)  # the text tower is the same whatever the image side trains
        if self.loaded_checkpoint:
            ident['checkpoint'] = self.loaded_checkpoint
        return ident

    def note_checkpoint(self, path: Optional[str]) -> None:
        """Record that ``path`` (e.g. the Runner's ``load_from``) was loaded over the weights, so text caches are
        keyed by it; ``None`` clears it."""
        import os.path as osp
        self.loaded_checkpoint = file_identity(path) if path and osp.isfile(path) else (path or None)

    # ------------------------------------------------------------------ widths
    @property
    def embed_dim(self) -> int:
        raise NotImplementedError

    @property
    def projection(self) -> Optional[torch.Tensor]:
        """P (D_pre, D) from ``pre_proj`` to the joint space (detached), or None when ``pre_proj`` is already there."""
        return None

    @property
    def pre_proj_kind(self) -> str:
        return 'pre_proj' if self.projection is not None else 'post_proj'

    def feature_dim(self, kind: str) -> int:
        """Width of the pooled feature ``kind``."""
        if kind == 'pre_proj':
            proj = self.projection
            return int(proj.shape[0]) if proj is not None else self.embed_dim
        if kind in ('global', 'embed'):
            return self.embed_dim
        raise ConfigError(f'{type(self).__name__}: no pooled width for the feature kind {kind!r}; pooled kinds: '
                          f'pre_proj, global, embed')

    def check_kinds(self, kinds: Iterable[str]) -> tuple:
        kinds = tuple(kinds)
        unknown = set(kinds) - set(self.feature_kinds)
        if unknown:
            raise ValueError(f'{type(self).__name__} gives the feature kinds {self.feature_kinds}, not '
                             f'{sorted(unknown)}')
        return kinds

    # ------------------------------------------------------------------ image side
    def extract_image_features(self, images: torch.Tensor,
                               kinds: Iterable[str] = ('global', )) -> Dict[str, torch.Tensor]:
        raise NotImplementedError

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        emb = self.extract_image_features(images, ('embed', ))['embed']
        return F.normalize(emb, dim=-1) if normalize else emb

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised global image embeddings (B, D)."""
        return self.extract_image_features(images, ('global', ))['global']

    # ------------------------------------------------------------------ text side
    def require_text(self, what: str) -> None:
        """Raise a clear error when ``what`` needs the text tower this backbone lacks."""
        if not self.has_text:
            raise ConfigError(f'{what} needs a text tower, and {type(self).__name__} ({self.pretrained or "random"}) '
                              f'is an image-only model: use a vision-language backbone (OpenCLIPBackbone, '
                              f'HFVLMBackbone), or a method that reads image features only (a linear probe trained '
                              f'on true labels, KNN, Mahalanobis, the post-hoc detectors on a probe).')

    @property
    def text_device(self) -> torch.device:
        return next(self.parameters()).device

    def _encode_batch(self, texts: Sequence[str]) -> torch.Tensor:
        """Un-normalised text embeddings of one batch of strings (B, D)."""
        raise NotImplementedError

    @property
    def text_trainable(self) -> bool:
        """Whether the text tower trains (gradients flow through :meth:`encode_text` in training mode)."""
        return not self.frozen and not self.trainable_blocks

    def encode_text(self, texts: Sequence[str], batch_size: int = 256, progress: bool = False,
                    desc: str = 'encoding text', normalize: bool = True,
                    encode: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
        """Encode strings in batches; float32 output on the model's device.

        Args:
            texts: prompts (already formatted).
            batch_size: texts per forward.
            progress: show a tqdm progress bar.
            desc: progress bar label.
            normalize: L2-normalise each embedding.
            encode: a text encoder applied to each batch of *tokens* instead of the model's own (open_clip only:
                CLIPN's "no" tower).
        """
        self.require_text('Encoding text')
        device = self.text_device
        chunks = []
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm
            starts = tqdm(starts, desc=desc, unit='batch', total=(len(texts) + batch_size - 1) // batch_size)
        grad = torch.enable_grad() if (self.text_trainable and self.training) else torch.no_grad()
        with grad:
            for s in starts:
                batch = list(texts[s:s + batch_size])
                if encode is not None:
                    emb = encode(self.tokenize(batch).to(device)).float()
                else:
                    emb = self._encode_batch(batch).float()
                chunks.append(F.normalize(emb, dim=-1) if normalize else emb)
        if not chunks:
            return torch.zeros(0, self.embed_dim, device=device)
        return torch.cat(chunks)

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        raise NotImplementedError(f'{type(self).__name__} does not expose a token tensor')

    def build_text_classifier(self, class_names: Sequence[str], templates: Sequence[str],
                              batch_size: int = 256, progress: bool = False) -> torch.Tensor:
        """Class prototypes: the normalised mean of the normalised template embeddings.

        With one template this is just the normalised embedding of ``template.format(name)``.
        Duplicate class names are kept (and give identical rows).

        Returns:
            Tensor (K, D), unit rows, float32.
        """
        templates = list(templates)
        if not templates:
            raise ValueError('At least one prompt template is needed')
        prompts = [t.format(c) for c in class_names for t in templates]
        emb = self.encode_text(prompts, batch_size=batch_size, progress=progress, desc='encoding class prompts')
        emb = emb.view(len(class_names), len(templates), -1)
        if len(templates) == 1:
            return emb[:, 0]
        return F.normalize(emb.mean(dim=1), dim=-1)
