"""Prompted text embeddings, encoded once and kept in the shared cache.

Key = (backbone text identity -- model, weights, a checkpoint loaded over them, open_clip version, precision --,
prompt template, word list digest, whether the vectors are unit or raw).
Encoding NegLabel's 70k-word corpus with ViT-B/16 takes ~100 minutes on 2 CPU cores: it must happen once.

Template ensembles (:func:`encode_ensemble_cached`) combine one embedding per template in one of two ways:

* ``'unit_mean'``: ``unit(mean_t unit(enc(t(w))))`` -- CLIP's and MCM's / PLP's rule, mmood's default;
* ``'raw_mean'``: ``unit(mean_t enc(t(w)))`` -- the mean of the *raw* encoder outputs, CSP's and NegRefine's rule
  (CSP-3): a template whose embedding has a larger norm weighs more.

With one template both are the unit embedding.
"""
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import CacheStore, hash_strings
from .prompts import resolve_templates

TEXT_NAMESPACE = 'text_embeddings'
#: the template-ensemble rules (module docstring)
ENSEMBLES = ('unit_mean', 'raw_mean')


def encode_prompts_cached(backbone, words: Sequence[str], template: str = '{}',
                          cache: Optional[CacheStore] = None, batch_size: int = 1000,
                          progress: bool = True, desc: str = 'encoding prompts',
                          normalize: bool = True) -> torch.Tensor:
    """Unit-norm (or, with ``normalize=False``, raw) embeddings of ``template.format(w)`` for every word, float32
    on CPU.

    Args:
        backbone: an :class:`~mmood.models.backbones.OpenCLIPBackbone`.
        words: the words (or full prompts with ``template='{}'``).
        template: prompt template with one ``{}``.
        cache: cache store; ``None`` disables caching.
        batch_size: texts per forward pass.
        progress: show a progress bar while encoding.
        desc: progress bar label.
        normalize: L2-normalise each embedding (False: the text tower's raw output, for ``raw_mean`` ensembles).
    """
    words = list(words)

    def compute():
        prompts = [template.format(w) for w in words]
        emb = backbone.encode_text(prompts, batch_size=batch_size, progress=progress, desc=desc, normalize=normalize)
        return {'emb': emb.cpu().numpy().astype(np.float32)}, {'num_words': len(words), 'template': template}

    if cache is None:
        return torch.from_numpy(compute()[0]['emb'])
    parts = dict(kind='text_embeddings', backbone=backbone.text_identity, template=template,
                 words=hash_strings(words), num_words=len(words))
    if not normalize:  # unit vectors keep the keys they always had
        parts['normalize'] = False
    arrays, _, _ = cache.get_or_compute(TEXT_NAMESPACE, parts, compute)
    return torch.from_numpy(np.array(arrays['emb']))


def check_ensemble(ensemble: str) -> str:
    """``ensemble`` if it is one of :data:`ENSEMBLES`, else a ``ValueError`` naming them."""
    if ensemble not in ENSEMBLES:
        raise ValueError(f'ensemble must be one of {ENSEMBLES}, got {ensemble!r}')
    return ensemble


def encode_ensemble_cached(backbone, words: Sequence[str], templates: Union[str, Sequence[str]],
                           ensemble: str = 'unit_mean', cache: Optional[CacheStore] = None, batch_size: int = 1000,
                           progress: bool = True, desc: str = 'encoding prompts') -> torch.Tensor:
    """Unit (N, D) embeddings of every word under a template ensemble (module docstring), float32 on CPU.

    Each template's embeddings are encoded once and cached (:func:`encode_prompts_cached`: unit vectors for
    ``unit_mean``, raw ones for ``raw_mean``); ``raw_mean`` sums them template by template (no (T, N, D) stack).

    Args:
        backbone: an :class:`~mmood.models.backbones.OpenCLIPBackbone`.
        words: the words (class names, candidate labels).
        templates: a named prompt set, one template or a list (:func:`~mmood.text.prompts.resolve_templates`).
        ensemble: ``'unit_mean'`` or ``'raw_mean'``.
        cache, batch_size, progress, desc: as :func:`encode_prompts_cached`.
    """
    templates = resolve_templates(templates)
    check_ensemble(ensemble)
    if len(templates) == 1:  # unit(raw) is the unit embedding: one cache entry serves both rules
        return encode_prompts_cached(backbone, words, templates[0], cache, batch_size, progress, desc)
    per_template = (encode_prompts_cached(backbone, words, template, cache, batch_size, progress,
                                          f'{desc} ({i + 1}/{len(templates)})', normalize=ensemble == 'unit_mean')
                    for i, template in enumerate(templates))
    if ensemble == 'unit_mean':  # float32 stack and mean: the prototypes every earlier release computed
        return F.normalize(torch.stack(list(per_template)).mean(0), dim=-1)
    total = None  # raw_mean: a float64 running sum, no (T, N, D) stack for large candidate pools
    for emb in per_template:
        total = emb.double() if total is None else total.add_(emb.double())
    return F.normalize(total / len(templates), dim=-1).float()


def build_text_classifier_cached(backbone, class_names: Sequence[str], templates: Sequence[str],
                                 cache: Optional[CacheStore] = None, batch_size: int = 1000,
                                 progress: bool = False, ensemble: str = 'unit_mean') -> torch.Tensor:
    """Class prototypes (K, D): the template ensemble of every class name (:func:`encode_ensemble_cached`;
    default: normalised mean over templates of normalised prompt embeddings).

    With one template this is the normalised embedding of ``template.format(name)``. Duplicate names are kept.
    """
    templates = list(templates)
    if not templates:
        raise ValueError('At least one prompt template is needed (option `templates`)')
    return encode_ensemble_cached(backbone, class_names, templates, ensemble, cache, batch_size, progress,
                                  desc='encoding class prompts')
