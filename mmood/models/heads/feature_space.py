"""Feature-space detectors fitted on ID-train features: KNN and (relative) Mahalanobis.

KNN (Sun et al., "Out-of-Distribution Detection with Deep Nearest Neighbors", ICML 2022)::

    S(x) = −‖z − z_(k)‖²                      z: unit feature, z_(k): its k-th nearest unit ID-train feature
    S(x) = mean_{j ∈ top-k} exp(cos(z, b_j)/T)   form='exp_cos' (PLP's kNN)

Mahalanobis (Lee et al., NeurIPS 2018) and relative Mahalanobis (Ren et al., arXiv 2106.09022)::

    S(x) = −min_c (x − μ_c)ᵀ Σ⁻¹ (x − μ_c)                               score 'mahalanobis'
    S(x) = −min_c [(x − μ_c)ᵀ Σ⁻¹ (x − μ_c) − (x − μ_0)ᵀ Σ_0⁻¹ (x − μ_0)]    score 'rmd' (relative=True)

with maximum-likelihood covariances (divided by N; :func:`mmood.scores.fit_gaussians`). Maths:
:mod:`mmood.scores.knn`, :mod:`mmood.scores.mahalanobis`. Every score is **higher = more in-distribution**.

Both heads need ID-train features (:attr:`requires_fit`): ``tools/score.py`` reads them from the feature cache;
in a config (``model.head=dict(type='KNNHead')``) :class:`~mmood.engine.OODPrepareHook` extracts or reads them
before testing (``id_train_dataloader``).

Spaces (option ``space``) -- where the statistics live:

* ``'feature'``: the feature kind as cached (``feature``: ``global`` by default);
* ``'probe_zscore'``: PLP's z-scored features ``(x − μ)/σ`` of the classifier's trained probe (``plp_knn``,
  ``plp_mahalanobis``);
* ``'probe_logits'``: the probe's logits (PLP's logit Mahalanobis, ``plp_logit_mahalanobis``).

Classes (option ``labels``): ``'true'`` (the ID-train labels) or ``'pseudo'`` (PLP: the zero-shot argmax of the
5-prompt ensemble, computed by the classifier).
"""
from types import MappingProxyType
from typing import Callable, Dict, Optional

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor

from ...utils.options import Range
from ...scores.knn import knn_score
from ...scores.mahalanobis import fit_gaussians, mahalanobis_score
from .base import BaseOODHead, Features, HeadContext
from .logit_head import probe_of
from ...utils.errors import ConfigError

__all__ = ['FittedHead', 'KNNHead', 'MahalanobisHead', 'SPACES']

#: Where a fitted head keeps its statistics: ``fn(probe, x) -> view`` (the probe is None for ``'feature'``).
SPACES: Dict[str, Callable] = {
    'feature': lambda probe, x: x,
    'probe_zscore': lambda probe, x: probe.standardize(x),
    'probe_logits': lambda probe, x: probe.logits(x),
}
LABEL_SOURCES = ('true', 'pseudo')


class FittedHead(BaseOODHead):
    """Base of heads fitted on ID-train features of one kind, in one space (see the module docstring).

    Args:
        feature: the feature kind (``global``; ``pre_proj`` for PLP's probe spaces).
        space: ``'feature'``, ``'probe_zscore'`` or ``'probe_logits'``.
        labels: ``'true'`` or ``'pseudo'`` classes for class-conditional statistics.
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """
    requires_fit = True
    fit_independent_options = BaseOODHead.fit_independent_options + ('chunk_size', )

    def __init__(self, feature: str = 'global', space: str = 'feature', labels: str = 'true', prefix: str = '',
                 init_cfg: Optional[dict] = None):
        super().__init__(prefix=prefix, init_cfg=init_cfg)
        if space not in SPACES:
            raise ConfigError(f'{type(self).__name__}: space must be one of {sorted(SPACES)}, got {space!r}')
        if labels not in LABEL_SOURCES:
            raise ConfigError(f'{type(self).__name__}: labels must be one of {LABEL_SOURCES}, got {labels!r}')
        self.feature = feature
        self.feature_kinds = (feature, )
        self.space = space
        self.labels = labels
        self.needs_text = labels == 'pseudo'  # pseudo-labels are the zero-shot argmax; true labels need no text
        self.num_classes = None
        self.pseudo_labels = None
        self.fitted = False

    def prepare(self, ctx: HeadContext) -> 'FittedHead':
        super().prepare(ctx)
        self.num_classes = ctx.num_classes
        self.borrow('probe', None if self.space == 'feature' else probe_of(ctx, f'{type(self).__name__}'
                                                                                f'(space={self.space!r})'))
        if self.labels == 'pseudo':
            self.pseudo_labels = ctx.lent('pseudo_labels', f'{type(self).__name__}(labels="pseudo")',
                                          'a classifier that computes pseudo-labels (LinearProbeClassifier)')
        return self

    def fit_reads(self) -> Dict:
        """The prototypes (the classifier's, which its pseudo-labels read) and the probe of a probe space."""
        return dict(super().fit_reads(), probe=self.__dict__.get('probe'))

    def view(self, x: Tensor) -> Tensor:
        """Features of :attr:`feature` in this head's space (no gradient)."""
        x = torch.as_tensor(x)
        probe = self.__dict__.get('probe')
        if probe is not None:
            x = x.to(probe.mean.device)
        with torch.no_grad():
            return SPACES[self.space](probe, x)

    def fit_inputs(self, feats: Features, labels: Optional[Tensor]):
        """``(view (N, D), labels (N,) or None)`` of the ID-train features."""
        self._check_prepared()
        raw = torch.as_tensor(self.kind(feats, self.feature, type(self).__name__))
        if raw.ndim != 2:
            raise ConfigError(f'{type(self).__name__} fits (N, D) features; "{self.feature}" has shape '
                              f'{tuple(raw.shape)}')
        if self.labels == 'pseudo':
            labels = torch.from_numpy(self.pseudo_labels(raw))
        return self.view(raw), labels

    def _query(self, feats: Features) -> Tensor:
        if not self.fitted:
            raise RuntimeError(f'{type(self).__name__}.fit(id_train_features, labels) must run before scoring')
        return self.view(self.kind(feats, self.feature, type(self).__name__))


@MODELS.register_module()
class KNNHead(FittedHead):
    """Deep nearest neighbours against the ID-train bank (score ``knn``; formulas in the module docstring).

    Chunked top-k: no full distance matrix is formed (:func:`mmood.scores.knn_score`).

    Args:
        k: neighbour rank / number of neighbours (50).
        form: ``'distance'`` or ``'exp_cos'`` (PLP).
        temperature: ``T`` of ``exp_cos`` (0.02, PLP).
        normalize: L2-normalise queries and bank.
        chunk_size: query rows per chunk.
        bank_chunk_size: bank rows per chunk.
        **kwargs: ``feature``, ``space``, ``prefix`` (:class:`FittedHead`).
    """

    fit_state_names = ('bank', )
    #: the bank is the (normalised) features: ``k`` is read by the fit's check only, the rest by scoring
    fit_independent_options = FittedHead.fit_independent_options + ('form', 'temperature', 'bank_chunk_size')
    option_ranges = MappingProxyType(dict(
        k=Range(ge=1, integer=True, why='a number of neighbours'), temperature=Range(gt=0, why='T divides the cosine'),
        chunk_size=Range(ge=1, integer=True, why='rows per chunk'),
        bank_chunk_size=Range(ge=1, integer=True, why='bank rows per chunk')))

    def __init__(self, k: int = 50, form: str = 'distance', temperature: float = 0.02, normalize: bool = True,
                 chunk_size: int = 4096, bank_chunk_size: int = 16384, **kwargs):
        super().__init__(**kwargs)
        self.score_names = ('knn', )
        self.k = int(k)
        self.form = form
        self.temperature = temperature
        self.normalize = normalize
        self.chunk_size = chunk_size
        self.bank_chunk_size = bank_chunk_size
        self.bank = None

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'KNNHead':
        """Keep the ID-train features (in the head's space) as the bank; labels are unused."""
        bank, _ = self.fit_inputs(feats, None)
        if not 1 <= self.k <= bank.shape[0]:
            raise ConfigError(f'knn: k={self.k} but the ID-train bank has {bank.shape[0]} features; lower it '
                              f'(tools/score.py --method-options knn.k=N, or model.head.k=N) with N <= '
                              f'{bank.shape[0]}.')
        bank = bank.to(device=self.id_text.device, dtype=torch.float32)
        # normalised once here, not once per query chunk
        self.bank = (F.normalize(bank, dim=1) if self.normalize else bank).contiguous()
        self.fitted = True
        return self

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        score = knn_score(self._query(feats), self.bank, k=self.k, chunk_size=self.chunk_size,
                          normalize=self.normalize, form=self.form, temperature=self.temperature,
                          bank_chunk_size=self.bank_chunk_size, bank_is_unit=self.normalize)
        return self.named(knn=score)


@MODELS.register_module()
class MahalanobisHead(FittedHead):
    """Class-conditional Gaussians with a shared covariance (score ``mahalanobis``, or ``rmd`` when relative).

    ``Σ`` is the pooled within-class covariance (``covariance='pooled'``, maximum likelihood) or PLP's unweighted
    mean of per-class covariances (``'mean_per_class'``), shrunk by ``shrinkage · tr(Σ)/D · I`` before inversion.

    Args:
        covariance: ``'pooled'`` or ``'mean_per_class'``.
        shrinkage: relative ridge (1e-6).
        relative: relative Mahalanobis (score ``rmd``).
        num_classes: number of classes (default: the number of ID class names).
        chunk_size: rows per chunk when scoring (default: :attr:`chunk_elements` / number of classes, at least
            :attr:`chunk_min_rows`).
        **kwargs: ``feature``, ``space``, ``labels``, ``prefix`` (:class:`FittedHead`).
    """

    fit_state_names = ('gaussians', )
    #: the fit keeps the global Gaussian too, so ``relative`` only changes the score
    fit_independent_options = FittedHead.fit_independent_options + ('relative', )
    option_ranges = MappingProxyType(dict(
        shrinkage=Range(ge=0, why='added to the covariance diagonal'),
        num_classes=Range(ge=1, integer=True, none=True, why='a number of classes'),
        chunk_size=Range(ge=1, integer=True, none=True, why='rows per chunk')))

    def __init__(self, covariance: str = 'pooled', shrinkage: float = 1e-6, relative: bool = False,
                 num_classes: Optional[int] = None, chunk_size: Optional[int] = None, **kwargs):
        super().__init__(**kwargs)
        self.score_names = ('rmd', ) if relative else ('mahalanobis', )
        self.covariance = covariance
        self.shrinkage = shrinkage
        self.relative = bool(relative)
        self.chunk_size = chunk_size
        self.fixed_num_classes = num_classes
        self.gaussians = None

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'MahalanobisHead':
        x, labels = self.fit_inputs(feats, labels)
        if labels is None:
            raise ConfigError(f'{type(self).__name__} needs the ID-train labels (or labels="pseudo")')
        labels = torch.as_tensor(labels).to(torch.long)
        num_classes = self.fixed_num_classes or self.num_classes
        if num_classes is not None:
            num_classes = max(int(num_classes), int(labels.max()) + 1)
        device = self.id_text.device
        self.gaussians = fit_gaussians(x.to(device), labels.to(device), num_classes, self.covariance,
                                       self.shrinkage)
        self.fitted = True
        return self

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        rows = self.chunk_size or max(int(self.chunk_min_rows),
                                      int(self.chunk_elements) // int(self.gaussians['means'].shape[0]))
        score = mahalanobis_score(self._query(feats), self.gaussians, relative=self.relative, chunk_size=rows)
        return self.named(**{self._score_names[0]: score})
