"""Feature-space scorers fitted on ID-train features: KNN and (relative) Mahalanobis."""
from typing import Optional

import torch
from torch import Tensor

from ..registry import SCORERS
from ..scores.knn import knn_score
from ..scores.mahalanobis import fit_gaussians, mahalanobis_score
from .base import BaseScorer, Features, ScorerContext

__all__ = ['KNNScorer', 'MahalanobisScorer', 'RelativeMahalanobisScorer']


class _FittedScorer(BaseScorer):
    requires_fit = True

    def __init__(self, feature: str = 'global'):
        self.feature = feature
        self.feature_kinds = (feature, )
        self.device = torch.device('cpu')
        self.num_classes = None

    def prepare(self, ctx: ScorerContext) -> '_FittedScorer':
        self.device = ctx.device
        self.num_classes = ctx.num_classes
        return self

    def _train_feats(self, feats: Features) -> Tensor:
        x = self._kind(feats, self.feature)
        if not isinstance(x, Tensor):
            x = torch.as_tensor(x)
        if x.ndim != 2:
            raise ValueError(f'{type(self).__name__} fits (N, D) features; "{self.feature}" has shape '
                             f'{tuple(x.shape)}')
        return x


@SCORERS.register_module(name=['knn', 'KNNScorer'])
class KNNScorer(_FittedScorer):
    """Deep nearest neighbours (Sun et al., ICML 2022) against an ID-train bank.

    ``form='distance'``: ``S(x) = −‖z − z_(k)‖²`` with ``z`` the L2-normalised feature and ``z_(k)`` its k-th
    nearest normalised bank feature (squared or not gives the same metrics). ``form='exp_cos'`` (PLP):
    ``S(x) = mean_{j ∈ top-k} exp(cos(z, b_j) / T)``. Computed by :func:`mmood.scores.knn_score` with chunked
    top-k: no full distance matrix is formed.

    Args:
        k: neighbour rank / number of neighbours (50).
        form: ``'distance'`` or ``'exp_cos'``.
        temperature: ``T`` of ``exp_cos`` (0.02, PLP).
        feature: feature kind (``global``; ``pre_proj`` for PLP-style banks).
        normalize: L2-normalise queries and bank.
        chunk_size: query rows per chunk.
        bank_chunk_size: bank rows per chunk.
    """

    def __init__(self, k: int = 50, form: str = 'distance', temperature: float = 0.02, feature: str = 'global',
                 normalize: bool = True, chunk_size: int = 4096, bank_chunk_size: int = 16384):
        super().__init__(feature)
        self.k = int(k)
        self.form = form
        self.temperature = temperature
        self.normalize = normalize
        self.chunk_size = chunk_size
        self.bank_chunk_size = bank_chunk_size
        self.bank = None

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'KNNScorer':
        """Keep the ID-train features as the bank (float32, on the scoring device); labels are unused."""
        bank = self._train_feats(feats)
        if not 1 <= self.k <= bank.shape[0]:
            raise ValueError(f'knn: k={self.k} but the ID-train bank has {bank.shape[0]} features; lower it with '
                             f'--method-options knn.k=N (N <= {bank.shape[0]}).')
        self.bank = bank.to(device=self.device, dtype=torch.float32).contiguous()
        return self

    def score(self, feats: Features) -> Tensor:
        if self.bank is None:
            raise RuntimeError('KNNScorer.fit(id_train_features) must run before scoring')
        return knn_score(self._kind(feats, self.feature), self.bank, k=self.k, chunk_size=self.chunk_size,
                         normalize=self.normalize, form=self.form, temperature=self.temperature,
                         bank_chunk_size=self.bank_chunk_size)


@SCORERS.register_module(name=['mahalanobis', 'MahalanobisScorer'])
class MahalanobisScorer(_FittedScorer):
    """Class-conditional Gaussians with a shared covariance (Lee et al., NeurIPS 2018).

    ``S(x) = −min_c (x − μ_c)ᵀ Σ⁻¹ (x − μ_c)``; with ``relative=True`` the background distance to the global
    Gaussian is subtracted before the min (Ren et al., 2021). ``Σ`` is the pooled within-class covariance
    (``covariance='pooled'``) or PLP's unweighted mean of per-class covariances (``'mean_per_class'``), shrunk by
    ``shrinkage · tr(Σ)/D · I`` before inversion so a singular covariance never fails
    (:func:`mmood.scores.fit_gaussians`).

    Args:
        covariance: ``'pooled'`` or ``'mean_per_class'``.
        shrinkage: relative ridge (1e-6).
        relative: relative Mahalanobis.
        feature: feature kind (``global``).
        num_classes: number of classes (default: the number of ID class names).
        chunk_size: rows per chunk when scoring.
    """

    def __init__(self, covariance: str = 'pooled', shrinkage: float = 1e-6, relative: bool = False,
                 feature: str = 'global', num_classes: Optional[int] = None, chunk_size: int = 8192):
        super().__init__(feature)
        self.covariance = covariance
        self.shrinkage = shrinkage
        self.relative = relative
        self.chunk_size = chunk_size
        self.fixed_num_classes = num_classes
        self.gaussians = None

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'MahalanobisScorer':
        if labels is None:
            raise ValueError('mahalanobis needs the ID-train labels')
        x = self._train_feats(feats)
        labels = torch.as_tensor(labels).to(torch.long)
        num_classes = self.fixed_num_classes or self.num_classes
        if num_classes is not None:
            num_classes = max(int(num_classes), int(labels.max()) + 1)
        gaussians = fit_gaussians(x.to(self.device), labels.to(self.device), num_classes, self.covariance,
                                  self.shrinkage)
        self.gaussians = gaussians
        return self

    def score(self, feats: Features) -> Tensor:
        if self.gaussians is None:
            raise RuntimeError('MahalanobisScorer.fit(id_train_features, labels) must run before scoring')
        return mahalanobis_score(self._kind(feats, self.feature), self.gaussians, relative=self.relative,
                                 chunk_size=self.chunk_size)


@SCORERS.register_module(name=['rmd', 'RelativeMahalanobisScorer'])
class RelativeMahalanobisScorer(MahalanobisScorer):
    """Relative Mahalanobis (Ren et al., 2021): :class:`MahalanobisScorer` with ``relative=True``.

    ``S(x) = −min_c (d_c(x) − d_g(x))`` with ``d_g`` the distance to the Gaussian of all ID-train features.
    """

    def __init__(self, covariance: str = 'pooled', shrinkage: float = 1e-6, feature: str = 'global',
                 num_classes: Optional[int] = None, chunk_size: int = 8192):
        super().__init__(covariance, shrinkage, True, feature, num_classes, chunk_size)
