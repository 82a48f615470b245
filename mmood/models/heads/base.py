"""Base class of OOD score heads."""
from typing import Dict, Tuple

import torch
from mmengine.model import BaseModule


class BaseOODHead(BaseModule):
    """An OOD score head: turns image features (and the ID text prototypes) into one score per image.

    Contract: **higher score = more in-distribution**. Heads that need text beyond the ID prototypes (NegLabel's
    negatives) or fitted state build it in :meth:`prepare`, which the classifier calls once before testing,
    on every rank (heads use :func:`mmood.utils.compute_on_main` for work that must happen once).
    """

    #: feature kinds the head reads from :meth:`OpenCLIPBackbone.extract_image_features`.
    feature_kinds: Tuple[str, ...] = ('global', )

    def prepare(self, ctx: Dict) -> None:
        """Build text-side state. ``ctx`` holds ``backbone``, ``id_text``, ``class_names``, ``templates``,
        ``cache`` (a :class:`~mmood.cache.CacheStore` or None), ``work_dir`` (or None) and ``batch_size``."""

    def forward(self, feats: Dict[str, torch.Tensor], id_text: torch.Tensor) -> torch.Tensor:
        """Return OOD scores (B,), higher = more ID."""
        raise NotImplementedError
