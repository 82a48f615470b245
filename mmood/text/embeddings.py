"""Prompted text embeddings, encoded once and kept in the shared cache.

Key = (backbone text identity -- model, weights, a checkpoint loaded over them, open_clip version, precision --,
prompt template, word list digest).
Encoding NegLabel's 70k-word corpus with ViT-B/16 takes ~100 minutes on 2 CPU cores: it must happen once.
"""
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..cache import CacheStore, hash_strings

TEXT_NAMESPACE = 'text_embeddings'


def encode_prompts_cached(backbone, words: Sequence[str], template: str = '{}',
                          cache: Optional[CacheStore] = None, batch_size: int = 1000,
                          progress: bool = True, desc: str = 'encoding prompts') -> torch.Tensor:
    """Unit-norm embeddings of ``template.format(w)`` for every word, float32 on CPU.

    Args:
        backbone: an :class:`~mmood.models.backbones.OpenCLIPBackbone`.
        words: the words (or full prompts with ``template='{}'``).
        template: prompt template with one ``{}``.
        cache: cache store; ``None`` disables caching.
        batch_size: texts per forward pass.
        progress: show a progress bar while encoding.
        desc: progress bar label.
    """
    words = list(words)

    def compute():
        prompts = [template.format(w) for w in words]
        emb = backbone.encode_text(prompts, batch_size=batch_size, progress=progress, desc=desc)
        return {'emb': emb.cpu().numpy().astype(np.float32)}, {'num_words': len(words), 'template': template}

    if cache is None:
        return torch.from_numpy(compute()[0]['emb'])
    parts = dict(kind='text_embeddings', backbone=backbone.text_identity, template=template,
                 words=hash_strings(words), num_words=len(words))
    arrays, _, _ = cache.get_or_compute(TEXT_NAMESPACE, parts, compute)
    return torch.from_numpy(np.array(arrays['emb']))


def build_text_classifier_cached(backbone, class_names: Sequence[str], templates: Sequence[str],
                                 cache: Optional[CacheStore] = None, batch_size: int = 1000,
                                 progress: bool = False) -> torch.Tensor:
    """Class prototypes (K, D): normalised mean over templates of normalised prompt embeddings.

    With one template this is the normalised embedding of ``template.format(name)``. Duplicate names are kept.
    """
    templates = list(templates)
    if not templates:
        raise ValueError('At least one prompt template is needed (option `templates`)')
    per_template = [encode_prompts_cached(backbone, class_names, t, cache, batch_size, progress,
                                          desc='encoding class prompts') for t in templates]
    if len(per_template) == 1:
        return per_template[0]
    return F.normalize(torch.stack(per_template).mean(0), dim=-1)
