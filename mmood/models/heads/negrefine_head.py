"""NegRefine head (Ansari et al., "NegRefine: Refining Negative Label-Based Zero-Shot OOD Detection", ICCV 2025,
arXiv 2507.09795): the grouped NegLabel score plus the multi-matching-aware score.

With unit image embedding ``h`` (logit scale 100)::

    S(x) = S_nl(x) + mm_weight * S_mm(x)                                                     mm_weight = 2
    S_mm(x) = max_{p,n} sigmoid(100 cos(h, e_{p and n}) - 100 cos(h, t_n))    (mmood.scores.negrefine)

``S_nl`` is :class:`~mmood.models.heads.CSPHead`'s grouped NegLabel score (CSP's template ensembles, 100 groups,
tau 0.01) on the negatives; ``p`` runs over the image's ``min(k_pos, K)`` best ID labels and ``n`` over its
``k_neg`` best negatives (``k_pos``, ``k_neg``: options of the ``matching`` dict) among **all** M negatives in their
own order (not the grouped, tail-dropped matrix);
``e_{p and n}`` is the raw-mean embedding of the composite text ``"{p} and {n}"`` under CSP's 8 noun templates.
Scores (higher = more ID): ``negrefine`` (S), ``negrefine_nl`` (S_nl) and ``negrefine_mm`` (S_mm).

NegRefine's LLM filter of the negatives is not part of this head: ``configs/negrefine/negrefine_vitb16.py`` loads the
negatives it published (``txtfiles/negrefine/``); without ``mining.selected_file`` the head mines CSP negatives as
NegRefine's ``src/create_negs.py`` (``create_initial_negative_labels``) does -- the max cosine as the quantile,
nouns equal to an ID name skipped (case-sensitively; adjectives and their superclass draws untouched) -- and
cleans them as its ``src/neg_filter.py`` (``_clean_words``) does before the LLM filter (docs/negrefine.md).

Cost: the composites depend on the image, so the text tower runs at score time (up to 25 texts x 8 templates per
image). Two caches keep that to once per text: an in-memory LRU of composite embeddings
(``matching.pair_cache_size`` texts) and the shared :class:`~mmood.cache.CacheStore`, one entry per call holding the
embeddings of the texts the LRU lacked, keyed by the text tower, the templates, the ensemble rule and the sorted
texts. Re-scoring the same batches in the same order (``tools/score.py`` after ``tools/test.py`` with the test batch
size) then finds every entry and encodes nothing; :attr:`NegRefineHead.pair_cache_stats` counts hits and misses.
"""
import logging
from collections import OrderedDict
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import print_log
from mmpretrain.registry import MODELS

from ...utils.options import Range
from ...cache import hash_strings
from ...scores.negrefine import compose_texts, multimatch_score, top_pairs
from ...text.embeddings import check_ensemble, encode_ensemble_cached
from ...text.prompts import resolve_templates
from ...utils.errors import ConfigError
from .base import Features, HeadContext
from .neglabel_head import CSPHead

__all__ = ['NegRefineHead', 'COMPOSITE_NAMESPACE', 'NEGREFINE_MINING', 'MATCHING_DEFAULTS']

#: cache namespace of the composite-text embeddings
COMPOSITE_NAMESPACE = 'composite_embeddings'

#: NegRefine's mining options where they differ from CSP's; used only when mining (no ``selected_file``), as
#: NegRefine's ``create_initial_negative_labels`` and ``_clean_words`` do:
#:
#: * ``percentile``: 1.0, the max cosine as the quantile (NR-5);
#: * ``exclude_id_names``: ``'exact_nouns'``, nouns equal to an ID name, case-sensitively (True is mmood's earlier
#:   rule, nouns and adjectives ignoring case);
#: * ``clean_words``: letters, ``_``, ``-`` and spaces kept, results under 3 characters and repeats dropped
#:   (:func:`mmood.text.mining.clean_labels`).
NEGREFINE_MINING = MappingProxyType(dict(percentile=1.0, exclude_id_names='exact_nouns', clean_words=True))
#: The ``matching`` options (the multi-matching-aware score) and their defaults (the reference's):
#:
#: * ``k_pos``: ID labels per image (used as ``min(k_pos, K)``);
#: * ``k_neg``: negatives per image (at most the number of negatives);
#: * ``composite_templates``: templates of the composite texts (a named set or a list; CSP's 8 noun templates);
#: * ``composite_ensemble``: how the composite templates combine (``'raw_mean'`` as the reference, ``'unit_mean'``);
#: * ``pair_cache_size``: composite embeddings kept in memory (least recently used dropped first; 0: none).
MATCHING_DEFAULTS: Mapping[str, Any] = MappingProxyType(dict(
    k_pos=5,
    k_neg=5,
    composite_templates='csp_noun',
    composite_ensemble='raw_mean',
    pair_cache_size=100000,
))


@MODELS.register_module()
class NegRefineHead(CSPHead):
    """NegRefine's score: ``S = S_nl + mm_weight * S_mm`` (module docstring). Score names ``negrefine`` (primary),
    ``negrefine_nl``, ``negrefine_mm``.

    Args:
        mm_weight: weight of ``S_mm`` in the primary score (2; a commented alternative of the reference uses 4).
        matching: the multi-matching score (:data:`MATCHING_DEFAULTS`: ``k_pos``, ``k_neg``,
            ``composite_templates``, ``composite_ensemble``, ``pair_cache_size``).
        **kwargs: :class:`NegLabelHead` options: ``mining`` (defaults: CSP's with :data:`NEGREFINE_MINING`; the
            published negatives are ``mining=dict(selected_file=dict(noun=..., adj=...))``), ``grouping``, ``tau``,
            ``templates``, ``prefix``.
    """
    score_name = 'negrefine'
    option_groups = MappingProxyType(dict(CSPHead.option_groups,
                                          mining=MappingProxyType(dict(CSPHead.option_groups['mining'],
                                                                       **NEGREFINE_MINING)),
                                          matching=MATCHING_DEFAULTS))

    option_ranges = MappingProxyType(dict(CSPHead.option_ranges, **{
        'mm_weight': Range(ge=0, why='the weight of the multi-matching score'),
        'matching.k_pos': Range(ge=1, integer=True, why='a number of ID labels per image'),
        'matching.k_neg': Range(ge=1, integer=True, why='a number of negative labels per image'),
        'matching.pair_cache_size': Range(ge=0, integer=True, why='a number of cached composite embeddings'),
    }))

    def __init__(self,
                 mm_weight: float = 2.0,
                 matching: Optional[Mapping[str, Any]] = None,
                 **kwargs):
        super().__init__(**kwargs)
        matching = self.options('matching', matching)
        k_pos, k_neg, pair_cache_size = matching['k_pos'], matching['k_neg'], matching['pair_cache_size']
        self.score_names = (self.score_name, f'{self.score_name}_nl', f'{self.score_name}_mm')
        try:
            self.composite_templates = resolve_templates(matching['composite_templates'])
            self.composite_ensemble = check_ensemble(matching['composite_ensemble'])
        except ValueError as err:
            raise ConfigError(str(err)) from None
        self.k_pos = int(k_pos)
        self.k_neg = int(k_neg)
        self.mm_weight = float(mm_weight)
        self.pair_cache_size = int(pair_cache_size)
        # every negative in mined order (the rows of `neg_emb`), on the device: the top-k runs over all of them
        self.register_buffer('neg_all', torch.zeros(0), persistent=False)
        self.class_names: List[str] = []
        self._pairs: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
        self._pair_identity = None
        self._cache = None
        self._text_batch_size = 1000
        self._stats = dict(hits=0, misses=0, store_hits=0, store_misses=0, encoded=0)

    # ------------------------------------------------------------------ life cycle
    def prepare(self, ctx: HeadContext) -> 'NegRefineHead':
        super().prepare(ctx)
        tower = ctx.require_backbone('NegRefineHead (NegRefine encodes composite texts at score time)')
        if ctx.class_names is None or len(ctx.class_names) != self.id_text.shape[0]:
            raise ConfigError(f'NegRefineHead needs the {self.id_text.shape[0]} ID class names in the head context '
                              f'(got {None if ctx.class_names is None else len(ctx.class_names)})')
        if self.k_neg > len(self.neg_prompts):
            raise ConfigError(f'k_neg={self.k_neg} is larger than the number of negatives ({len(self.neg_prompts)})')
        self.borrow('text_tower', tower)
        self.class_names = list(ctx.class_names)
        self._cache = ctx.cache
        self._text_batch_size = int(ctx.batch_size)
        self.neg_all = self.neg_emb.to(ctx.device)
        identity = (repr(tower.text_identity), tuple(self.composite_templates), self.composite_ensemble)
        if identity != self._pair_identity:  # another tower or templates: the kept embeddings are stale
            self._pairs.clear()
            self._pair_identity = identity
        stats = self.pair_cache_stats
        print_log(f'NegRefineHead: k_pos={min(self.k_pos, len(self.class_names))}, k_neg={self.k_neg}, '
                  f'mm_weight={self.mm_weight}, composites under {len(self.composite_templates)} templates '
                  f'({self.composite_ensemble}); pair cache so far: {stats["hits"]} hits, {stats["misses"]} misses '
                  f'({stats["encoded"]} texts encoded, {stats["store_hits"]} store hits), {stats["kept"]} kept',
                  logger='current', level=logging.INFO)
        return self

    @property
    def pair_cache_stats(self) -> Dict[str, int]:
        """Counts since the head was built: ``hits`` / ``misses`` (unique composite texts of a call found / not
        found in memory), ``store_hits`` / ``store_misses`` (calls whose missing texts the CacheStore held / did not
        hold), ``encoded`` (texts sent through the text tower, each under every template) and ``kept`` (texts in
        memory now)."""
        return dict(self._stats, kept=len(self._pairs))

    def forward(self, feats: Features) -> Dict[str, torch.Tensor]:
        """``negrefine``, ``negrefine_nl`` and ``negrefine_mm`` of a batch; every row's scores depend on that row
        only (the same as scoring image by image, NR-1)."""
        self._check_prepared()
        s_nl = self.grouped_score(feats)
        h = self.kind(feats, 'global', 'NegRefineHead')
        s_mm = self.multimatch(h).to(s_nl.dtype)
        name = self.score_name
        return self.named(**{name: s_nl + self.mm_weight * s_mm, f'{name}_nl': s_nl, f'{name}_mm': s_mm})

    # ------------------------------------------------------------------ the multi-matching score
    def multimatch(self, h: torch.Tensor) -> torch.Tensor:
        """``S_mm`` of unit image features ``h`` (B, D) (:func:`~mmood.scores.multimatch_score`)."""
        dtype = torch.float64 if h.dtype == torch.float64 else torch.float32
        h = h.to(dtype)
        if h.shape[0] == 0:
            return h.new_zeros(0)
        scale = self.logit_scale
        pos_logits = scale * (h @ self.id_text.to(dtype).T)
        neg_logits = scale * (h @ self.neg_all.to(device=h.device, dtype=dtype).T)
        k_pos = min(self.k_pos, pos_logits.shape[1])
        pos_idx, neg_idx, _ = top_pairs(pos_logits, neg_logits, k_pos, self.k_neg)
        # the chosen negatives' logits again, as the composites' below (a row-wise product and sum, no matrix
        # product whose rounding depends on the batch size): per-image calls give the same S_mm (measured <= 3e-14)
        neg_top = scale * (self.neg_all.to(device=h.device, dtype=dtype)[neg_idx] * h[:, None, :]).sum(-1)
        texts = []
        for pos_row, neg_row in zip(pos_idx.tolist(), neg_idx.tolist()):
            texts += compose_texts([self.class_names[i] for i in pos_row], [self.neg_prompts[j] for j in neg_row])
        emb, index = self.composite_embeddings(texts)
        emb = emb.to(device=h.device, dtype=dtype)
        index = torch.as_tensor(index, dtype=torch.long, device=h.device).view(h.shape[0], k_pos * self.k_neg)
        # c[b, i] = scale * h_b . e_{text i of row b}, in row chunks (memory), row by row the same values
        rows = max(1, self.chunk_elements // max(1, k_pos * self.k_neg * emb.shape[1]))
        comp = torch.cat([scale * (emb[index[s:s + rows]] * h[s:s + rows, None, :]).sum(-1)
                          for s in range(0, h.shape[0], rows)])
        return multimatch_score(comp.view(h.shape[0], k_pos, self.k_neg), neg_top)

    def composite_embeddings(self, texts: Sequence[str]):
        """Unit embeddings of the distinct ``texts`` (U, D, float32 CPU) and, for every text, its row in them.

        Texts in memory are reused; the others are encoded together (or read from the CacheStore) and kept."""
        unique = list(dict.fromkeys(texts))
        row = {t: i for i, t in enumerate(unique)}
        found = {t: self._pairs[t] for t in unique if t in self._pairs}
        missing = sorted(t for t in unique if t not in found)
        self._stats['hits'] += len(found)
        self._stats['misses'] += len(missing)
        for t in found:
            self._pairs.move_to_end(t)
        if missing:
            new = self._encode(missing)
            for t, e in zip(missing, new):
                found[t] = e
                if self.pair_cache_size:
                    self._pairs[t] = e
            while len(self._pairs) > self.pair_cache_size:
                self._pairs.popitem(last=False)
        emb = torch.stack([found[t] for t in unique])
        return emb, [row[t] for t in texts]

    def _encode(self, texts: List[str]) -> List[torch.Tensor]:
        """Embeddings of ``texts`` (sorted, distinct): one (D, ) float32 CPU row each, each its own copy (the LRU
        frees them one by one). One CacheStore entry holds the whole list; else one text-tower pass per template."""
        tower = self.__dict__.get('text_tower')

        def compute():
            self._stats['encoded'] += len(texts)
            emb = encode_ensemble_cached(tower, texts, self.composite_templates, self.composite_ensemble, cache=None,
                                         batch_size=self._text_batch_size, progress=False,
                                         desc='encoding composite texts')
            return {'emb': emb.cpu().numpy().astype(np.float32)}, dict(num_texts=len(texts), first=texts[0])

        if self._cache is None:
            arrays = compute()[0]
        else:
            parts = dict(kind='negrefine_composites', backbone=tower.text_identity,
                         templates=list(self.composite_templates), ensemble=self.composite_ensemble,
                         texts=hash_strings(texts), num_texts=len(texts))
            arrays, _, hit = self._cache.get_or_compute(COMPOSITE_NAMESPACE, parts, compute)
            self._stats['store_hits' if hit else 'store_misses'] += 1
        emb = torch.from_numpy(np.asarray(arrays['emb'], dtype=np.float32))
        return [row.clone() for row in emb]

    def extra_repr(self) -> str:
        return (f'k_pos={self.k_pos}, k_neg={self.k_neg}, mm_weight={self.mm_weight}, '
                f'pair_cache_size={self.pair_cache_size}')
