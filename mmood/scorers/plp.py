"""PLP scorers: the trained linear probe's logits, its z-scored feature space, and the pseudo-MSP baseline.

Paper: N. Adaloglou, F. Michels, T. Kaiser, M. Kollmann, "Adapting Contrastive Language-Image Pretrained (CLIP)
Models for Out-of-Distribution Detection", TMLR 2024, arXiv:2303.05828 (plp.md §5).

They read the probe of a ``LinearProbeClassifier`` config loaded with its trained checkpoint
(``tools/score.py CONFIG CHECKPOINT``), with ``z(x) = (x − μ)/σ`` and ``l(x) = W z(x) + b`` the probe's
standardisation and logits on pre-projection features ``x``::

    plp_energy              S = T · logsumexp(l / T)                 (T = 1)
    plp_msp                 S = max_c softmax_c(l / T)
    plp_maxlogit            S = max_c l_c
    plp_l1norm              S = Σ_c (l_c − min l)                      (PLP's L1 norm)
    plp_knn                 S = mean_{top-k} exp(cos(z, z_j) / T)     z-scored ID-train bank (k = 1, T = 0.02)
    plp_mahalanobis         S = −min_c (z − μ_c)ᵀ Σ⁻¹ (z − μ_c)        z-scored features, pooled Σ
    plp_logit_mahalanobis   S = −min_c (l − μ_c)ᵀ Σ⁻¹ (l − μ_c)        PLP's variant: logit space, Σ = mean of
                                                                      per-class covariances (PLP-5)
    pseudo_msp              S = max_c softmax_c(cos(h, t_c))           MCM, τ = 1, 5-prompt ensemble,
                                                                      h = normalize(x W)

Class-conditional statistics use the **pseudo-labels** of the ID-train features by default (``labels='pseudo'``;
classes that received none are skipped), as PLP does; ``labels='true'`` uses the dataset's labels. The
Mahalanobis scorers accept ``relative=True`` (relative Mahalanobis, computed by PLP for its logit variant).

Every score is **higher = more in-distribution**.
"""
from typing import Optional

import torch
from torch import Tensor

from ..registry import SCORERS
from .base import Features, ScorerContext
from .feature_space import KNNScorer, MahalanobisScorer
from .logits import EnergyScorer, L1NormScorer, MaxLogitScorer, MSPScorer
from .zero_shot import MCMScorer

__all__ = ['PLPEnergyScorer', 'PLPMSPScorer', 'PLPMaxLogitScorer', 'PLPL1NormScorer', 'PLPKNNScorer',
           'PLPMahalanobisScorer', 'PLPLogitMahalanobisScorer', 'PseudoMSPScorer', 'probe_of']

LABEL_SOURCES = ('pseudo', 'true')


def probe_of(ctx: ScorerContext):
    """The trained probe head of the context's classifier.

    Raises:
        ValueError: the model is not a linear-probe classifier, or its probe was never trained / loaded.
    """
    head = getattr(ctx.model, 'head', None)
    if head is None or not all(hasattr(head, n) for n in ('logits', 'standardize', 'stats_ready')):
        raise ValueError('PLP scorers need a LinearProbeClassifier config (e.g. configs/plp_vitb16_in1k.py) and '
                         'its trained checkpoint: tools/score.py CONFIG CHECKPOINT --methods plp_energy ...')
    if not bool(head.stats_ready):
        raise ValueError('The linear probe is untrained: pass the checkpoint written by tools/train.py '
                         '(tools/score.py CONFIG work_dirs/<config>/iter_<N>.pth ...).')
    return head


class _ProbeLogits:
    """Mixin for the logit scorers: logits come from the trained probe instead of the zero-shot classifier."""

    def prepare(self, ctx: ScorerContext):
        self.probe = probe_of(ctx)
        self.feature_kinds = (self.probe.feature, )
        return self

    def logits(self, feats: Features) -> Tensor:
        x = self._kind(feats, self.probe.feature)
        with torch.no_grad():
            return self.probe.logits(x.to(self.probe.mean.device))


@SCORERS.register_module(name=['plp_energy', 'PLPEnergyScorer'])
class PLPEnergyScorer(_ProbeLogits, EnergyScorer):
    """Energy of the probe's logits, ``S = T · logsumexp(l / T)``.

    Args:
        temperature: ``T`` (1.0).
    """

    def __init__(self, temperature: float = 1.0):
        super().__init__(temperature=temperature, logit_scale=None)


@SCORERS.register_module(name=['plp_msp', 'PLPMSPScorer'])
class PLPMSPScorer(_ProbeLogits, MSPScorer):
    """MSP of the probe's logits, ``S = max_c softmax_c(l / T)``.

    Args:
        temperature: ``T`` (1.0).
    """

    def __init__(self, temperature: float = 1.0):
        super().__init__(temperature=temperature, logit_scale=None)


@SCORERS.register_module(name=['plp_maxlogit', 'PLPMaxLogitScorer'])
class PLPMaxLogitScorer(_ProbeLogits, MaxLogitScorer):
    """Largest probe logit, ``S = max_c l_c``."""

    def __init__(self):
        super().__init__(logit_scale=None)


@SCORERS.register_module(name=['plp_l1norm', 'PLPL1NormScorer'])
class PLPL1NormScorer(_ProbeLogits, L1NormScorer):
    """PLP's L1 norm of the probe's logits, ``S = Σ_c (l_c − min l)``."""

    def __init__(self):
        super().__init__(logit_scale=None)


class _ProbeSpace:
    """Mixin for fitted scorers: fit and score in a space of the probe (:meth:`_view`), on its feature kind,
    with pseudo-labels (or true labels) as classes."""

    labels = 'pseudo'

    def prepare(self, ctx: ScorerContext):
        super().prepare(ctx)
        self.probe = probe_of(ctx)
        self.model = ctx.model
        self.feature = self.probe.feature
        self.feature_kinds = (self.feature, )
        return self

    def _view(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def _kind(self, feats: Features, kind: str) -> Tensor:
        x = torch.as_tensor(super()._kind(feats, kind)).to(self.probe.mean.device)
        with torch.no_grad():
            return self._view(x)

    def fit(self, feats: Features, labels: Optional[Tensor] = None):
        if self.labels == 'pseudo':
            raw = torch.as_tensor(super()._kind(feats, self.feature))
            labels = torch.from_numpy(self.model.pseudo_labels(raw))
        return super().fit(feats, labels)


class _ZScored(_ProbeSpace):

    def _view(self, x: Tensor) -> Tensor:
        return self.probe.standardize(x)


class _LogitSpace(_ProbeSpace):

    def _view(self, x: Tensor) -> Tensor:
        return self.probe.logits(x)


def _check_labels(labels: str) -> str:
    if labels not in LABEL_SOURCES:
        raise ValueError(f'labels must be one of {LABEL_SOURCES}, got {labels!r}')
    return labels


@SCORERS.register_module(name=['plp_knn', 'PLPKNNScorer'])
class PLPKNNScorer(_ZScored, KNNScorer):
    """KNN on the probe's z-scored features against the z-scored ID-train bank (PLP's kNN defaults).

    Args:
        k: number of neighbours (1, PLP).
        form: ``'exp_cos'`` (PLP: ``mean exp(cos / T)``) or ``'distance'`` (Sun et al.).
        temperature: ``T`` of ``exp_cos`` (0.02).
        normalize: L2-normalise the z-scored vectors (cosines).
        chunk_size: query rows per chunk.
        bank_chunk_size: bank rows per chunk.
    """

    labels = 'true'  # unused: KNN needs no classes

    def __init__(self, k: int = 1, form: str = 'exp_cos', temperature: float = 0.02, normalize: bool = True,
                 chunk_size: int = 4096, bank_chunk_size: int = 16384):
        super().__init__(k=k, form=form, temperature=temperature, feature='pre_proj', normalize=normalize,
                         chunk_size=chunk_size, bank_chunk_size=bank_chunk_size)


@SCORERS.register_module(name=['plp_mahalanobis', 'PLPMahalanobisScorer'])
class PLPMahalanobisScorer(_ZScored, MahalanobisScorer):
    """Mahalanobis on the probe's z-scored features, classes = pseudo-labels by default.

    Args:
        labels: ``'pseudo'`` (zero-shot argmax, PLP) or ``'true'`` (the ID-train labels).
        covariance: ``'pooled'`` or ``'mean_per_class'``.
        shrinkage: relative ridge before inversion (1e-6).
        relative: relative Mahalanobis.
        chunk_size: rows per chunk when scoring.
    """

    def __init__(self, labels: str = 'pseudo', covariance: str = 'pooled', shrinkage: float = 1e-6,
                 relative: bool = False, chunk_size: int = 8192):
        super().__init__(covariance=covariance, shrinkage=shrinkage, relative=relative, feature='pre_proj',
                         chunk_size=chunk_size)
        self.labels = _check_labels(labels)


@SCORERS.register_module(name=['plp_logit_mahalanobis', 'PLPLogitMahalanobisScorer'])
class PLPLogitMahalanobisScorer(_LogitSpace, MahalanobisScorer):
    """PLP's Mahalanobis in the probe's logit space: classes = pseudo-labels, Σ = mean of per-class covariances.

    Args:
        labels: ``'pseudo'`` (PLP) or ``'true'``.
        covariance: ``'mean_per_class'`` (PLP) or ``'pooled'``.
        shrinkage: relative ridge before inversion (1e-6; the logit covariance has rank ≤ D, singular when
            C > D, e.g. ViT-B/16's 768 < 1000 ImageNet classes).
        relative: relative Mahalanobis (PLP reports both).
        chunk_size: rows per chunk when scoring.
    """

    def __init__(self, labels: str = 'pseudo', covariance: str = 'mean_per_class', shrinkage: float = 1e-6,
                 relative: bool = False, chunk_size: int = 8192):
        super().__init__(covariance=covariance, shrinkage=shrinkage, relative=relative, feature='pre_proj',
                         chunk_size=chunk_size)
        self.labels = _check_labels(labels)


@SCORERS.register_module(name=['pseudo_msp', 'PseudoMSPScorer'])
class PseudoMSPScorer(MCMScorer):
    """PLP's pseudo-MSP baseline (Ming et al.): MCM with ``τ = 1`` and the 5-prompt ensemble,
    ``S = max_c softmax_c(cos(h, t_c))`` on the projected, normalised feature ``h``.

    Args:
        templates: prompt ensemble of the prototypes (``'plp5'``).
    """

    def __init__(self, templates='plp5'):
        super().__init__(tau=1.0, templates=templates)
