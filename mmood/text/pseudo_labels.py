"""PLP pseudo-labels: the zero-shot class of every ID training image, from a prompt-ensemble classifier.

Paper: N. Adaloglou, F. Michels, T. Kaiser, M. Kollmann, "Adapting Contrastive Language-Image Pretrained (CLIP)
Models for Out-of-Distribution Detection", TMLR 2024, arXiv:2303.05828 (PLP). Reference: its ``linear_probing.py``;
docs/plp.md.

Formula, for a raw image feature ``x`` taken before the projection ``W`` (pre-projection CLS feature after
``ln_post``) and class prototypes ``t_c``::

    t_c  = normalize( mean_p normalize(E_text(p(c))) )           p: the 5 prompts of PROMPT_SETS['plp5']
    x~   = normalize(x) @ W                                        (normalised *before* projecting, no renorm)
    y(x) = argmax_c  x~ · t_c                                      hard label, ties -> lowest class index

Normalising before or after the projection changes every logit of a row by the same positive factor, so the
argmax is identical either way (PLP-2); the pseudo-MSP baseline, in contrast, is MCM (tau = 1)
on ``normalize(x @ W)``. Towers without a separate projection (ModifiedResNet, timm towers) cache the projected
feature under ``pre_proj`` (the backbone's ``pre_proj_kind`` is ``'post_proj'``); there ``W`` is the identity.

Duplicate class names give identical prototypes; the lower index wins the argmax, so the higher duplicate is
never predicted. PLP's ImageNet names (:data:`NAMED_CLASS_LISTS`, ``'plp_first_synonym'``) name ``crane``
(134, 517) and ``maillot`` (638, 639) twice: classes 517 and 639 receive no pseudo-label (PLP-3).

Pseudo-labels are not OOD scores; the probe trained on them scores OOD (higher = more ID).
"""
import logging
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import Tensor

from .class_names import load_class_names

__all__ = ['NAMED_CLASS_LISTS', 'resolve_class_names', 'ensemble_prototypes', 'pseudo_label_logits',
           'compute_pseudo_labels', 'cached_pseudo_labels', 'label_counts', 'unlabelled_classes',
           'describe_pseudo_labels', 'log_pseudo_labels', 'PSEUDO_LABEL_NAMESPACE']

PSEUDO_LABEL_NAMESPACE = 'pseudo_labels'

#: Named class-name lists (``class_names='<name>'``); any other string is a file, a list is used as given.
NAMED_CLASS_LISTS: Dict[str, str] = {
    # PLP's ImageNet names: first synonym of each label (duplicates crane, maillot kept; reference parity).
    'plp_first_synonym': 'txtfiles/imagenet_plp_first_synonym.txt',
}


def resolve_class_names(names: Union[str, Sequence[str]]) -> List[str]:
    """Class names from a named list (:data:`NAMED_CLASS_LISTS`), a text file (one per line) or a list.

    Duplicates are kept (they are part of PLP's label set).
    """
    if isinstance(names, str) and names in NAMED_CLASS_LISTS:
        return load_class_names(NAMED_CLASS_LISTS[names])
    return load_class_names(names)


def ensemble_prototypes(prompt_embeddings: Tensor) -> Tensor:
    """Prompt-ensemble prototypes ``t_c = normalize(mean_p normalize(e_cp))``.

    Args:
        prompt_embeddings: (C, P, D) text embeddings of P prompts per class (normalised or not).

    Returns:
        (C, D) unit prototypes, float32.
    """
    if prompt_embeddings.ndim != 3:
        raise ValueError(f'prompt_embeddings must have shape (C, P, D), got {tuple(prompt_embeddings.shape)}')
    return F.normalize(F.normalize(prompt_embeddings.float(), dim=-1).mean(dim=1), dim=-1)


def pseudo_label_logits(feats: Tensor, prototypes: Tensor, projection: Optional[Tensor] = None) -> Tensor:
    """PLP's zero-shot logits ``normalize(x) @ W @ t^T`` (no renormalisation after the projection).

    Args:
        feats: (N, D_in) raw image features (pre-projection, or projected when ``projection`` is None).
        prototypes: (C, D) unit class prototypes.
        projection: (D_in, D) projection ``W``; None = identity.

    Returns:
        (N, C) float32 logits (cosine-proportional; the logit scale is irrelevant for the argmax).
    """
    x = F.normalize(feats.float(), dim=-1)
    if projection is not None:
        x = x @ projection.to(device=x.device, dtype=x.dtype)
    return x @ prototypes.to(device=x.device, dtype=x.dtype).T


def compute_pseudo_labels(feats: Any, prototypes: Tensor, projection: Optional[Tensor] = None,
                          batch_size: int = 65536, device: Any = None, progress: bool = False) -> np.ndarray:
    """Hard pseudo-labels ``argmax_c normalize(x) W t_c`` for every row, in batches.

    Args:
        feats: (N, D_in) features: a tensor, an array or a memory-mapped array (read batch by batch).
        prototypes: (C, D) unit class prototypes.
        projection: (D_in, D) projection; None = identity.
        batch_size: rows per batch.
        device: where the products run (default: the prototypes' device).
        progress: show a progress bar.

    Returns:
        (N,) int64 class indices (ties: lowest index).
    """
    device = torch.device(device) if device is not None else prototypes.device
    prototypes = prototypes.to(device)
    projection = projection.to(device) if projection is not None else None
    num = int(feats.shape[0])
    out = np.empty(num, dtype=np.int64)
    starts = range(0, num, int(batch_size))
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, desc='pseudo-labels', unit='batch')
    with torch.no_grad():
        for start in starts:
            stop = min(num, start + int(batch_size))
            chunk = feats[start:stop]
            chunk = chunk if isinstance(chunk, Tensor) else torch.from_numpy(np.array(chunk, dtype=np.float32))
            logits = pseudo_label_logits(chunk.to(device), prototypes, projection)
            out[start:stop] = logits.argmax(dim=1).cpu().numpy()
    return out


def cached_pseudo_labels(compute: Callable[[], np.ndarray], key_parts: Dict[str, Any], cache: Any = None
                         ) -> Tuple[np.ndarray, bool]:
    """Pseudo-labels computed once and kept in the shared cache (namespace ``pseudo_labels``).

    Args:
        compute: returns the (N,) int64 labels when the cache has none.
        key_parts: everything the labels depend on (feature entry, text prototypes, rule).
        cache: a :class:`~mmood.cache.CacheStore`, or None (no caching).

    Returns:
        ``(labels, hit)``: the labels and whether the cache answered.
    """
    if cache is None:
        return compute(), False

    def make():
        labels = np.asarray(compute(), dtype=np.int64)
        return {'labels': labels}, {'num_samples': int(labels.shape[0])}

    arrays, _, hit = cache.get_or_compute(PSEUDO_LABEL_NAMESPACE, dict(key_parts, kind='pseudo_labels'), make)
    return np.array(arrays['labels'], dtype=np.int64), hit


def label_counts(labels: Any, num_classes: int) -> np.ndarray:
    """(C,) number of samples per class."""
    return np.bincount(np.asarray(labels, dtype=np.int64), minlength=int(num_classes))[:int(num_classes)]


def unlabelled_classes(counts: Any) -> List[int]:
    """Indices of the classes that received no pseudo-label, from :func:`label_counts`."""
    return [int(c) for c in np.flatnonzero(np.asarray(counts) == 0)]


def describe_pseudo_labels(counts: Any, class_names: Optional[Sequence[str]] = None, limit: int = 20,
                           what: str = 'pseudo-label') -> str:
    """One line for logs and reports: how many images, how many classes got no pseudo-label (and which).

    Args:
        counts: (C,) samples per class (:func:`label_counts`).
        class_names: names to show next to the indices.
        limit: at most this many classes are named.
        what: the noun (``'pseudo-label'``, or ``'label'`` for a probe trained on true labels).
    """
    counts = np.asarray(counts)
    missing = unlabelled_classes(counts)
    named = [f'{c} ({class_names[c]})' if class_names is not None else str(c) for c in missing[:limit]]
    more = f', ... ({len(missing) - limit} more)' if len(missing) > limit else ''
    which = f': {", ".join(named)}{more}' if missing else ''
    return (f'{what}s of {int(counts.sum())} images: {len(missing)} of {counts.size} classes received no '
            f'{what}{which}')


def log_pseudo_labels(counts: Any, class_names: Optional[Sequence[str]] = None) -> str:
    """Log :func:`describe_pseudo_labels` (a warning when some class got no label) and return the line."""
    line = describe_pseudo_labels(counts, class_names)
    level = logging.WARNING if unlabelled_classes(counts) else logging.INFO
    print_log(f'PLP {line}', logger='current', level=level)
    return line
