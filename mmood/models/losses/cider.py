"""CIDER's prototype objective, the ID loss of NPOS trained from scratch.

Papers: Y. Ming, Y. Sun, O. Dia, Y. Li, "How to Exploit Hyperspherical Embeddings for Out-of-Distribution
Detection?" (CIDER), ICLR 2023, arXiv 2203.04450, Sec. 3 (Eq. 4-6); used unchanged by L. Tao et al., "Non-Parametric
Outlier Synthesis", ICLR 2023, arXiv 2303.02966, Sec. 3.2 / Appendix (the CIFAR models). Reference code:
``deeplearning-wisc/npos`` ``training_from_scratch/losses.py`` (``CompLoss``, ``DispLoss``); docs/npos.md.

Notation: ``z_n`` unit projections (128-d) of the 2B views of a batch (all first views, then all second views),
``y_n`` their labels, ``μ_c`` unit class prototypes, ``τ`` the temperature (0.1)::

    EMA (sequential, n = 1..2B in batch order):  μ_{y_n} <- normalize(m·μ_{y_n} + (1 − m)·z_n)
    L_dis  = (τ/τ_d) · mean_i log[ 1/(C−1) Σ_{j≠i} exp(μ_i·μ_j/τ) ]        (τ_d = 0.1: factor 1; NaN rows dropped)
    L_comp = −(τ/τ_c) · mean_n log softmax_c(z_n·μ̂_c/τ)[y_n]                 (τ_c = 0.07: factor 1/0.7)
    L      = w_dis·L_dis + w_comp·L_comp                                       (0.5 and 1)

``L_dis`` is computed on the updated prototypes *with* their autograd graph (the gradient reaches ``z`` through the
``(1 − m)`` terms, as in the reference), ``L_comp`` on the updated prototypes detached; afterwards the prototypes
are stored detached. ``m`` = 0.95 (CIFAR-10) or 0.5 (CIFAR-100). The EMA is exact but vectorised: classes are
independent, so it loops over the position of a sample within its class (about 2B / C steps) and updates every
class with a sample at that position at once, keeping the batch order inside each class.
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ...utils.errors import ConfigError

__all__ = ['prototype_ema', 'dispersion_loss', 'compactness_loss', 'CIDERLoss']


def prototype_ema(prototypes: Tensor, feats: Tensor, labels: Tensor, momentum: float) -> Tensor:
    """The reference's sequential per-sample prototype update, ``μ_y <- normalize(m·μ_y + (1 − m)·z)`` for each
    sample in batch order; differentiable in ``feats`` (and ``prototypes``).

    Args:
        prototypes: (C, D) current prototypes.
        feats: (N, D) unit features.
        labels: (N,) class indices.
        momentum: ``m``.

    Returns:
        (C, D) updated prototypes (a new tensor; classes without a sample keep their row).
    """
    labels = labels.reshape(-1).long().to(feats.device)
    if labels.numel() != feats.shape[0]:
        raise ValueError(f'CIDER EMA: {labels.numel()} labels for {feats.shape[0]} features')
    out = prototypes.to(feats.dtype)
    if labels.numel() == 0:
        return out
    order = torch.sort(labels, stable=True).indices
    sorted_labels = labels[order]
    per_class = torch.bincount(labels, minlength=prototypes.shape[0])
    first = torch.cumsum(per_class, 0) - per_class
    rank = torch.empty_like(labels)
    rank[order] = torch.arange(labels.numel(), device=labels.device) - first[sorted_labels]
    m = float(momentum)
    for position in range(int(per_class.max())):
        idx = torch.nonzero(rank == position).flatten()  # at most one sample per class
        cls = labels[idx]
        updated = F.normalize(m * out[cls] + (1 - m) * feats[idx], dim=-1)
        out = out.index_put((cls, ), updated)
    return out


def dispersion_loss(prototypes: Tensor, temperature: float = 0.1, base_temperature: float = 0.1) -> Tensor:
    """``L_dis`` of the module docstring: mean over prototypes of the log mean exp-similarity to the others
    (rows that are NaN are dropped, as the reference's ``~isnan`` filter)."""
    num = prototypes.shape[0]
    if num < 2:
        raise ValueError('CIDER dispersion needs at least 2 classes')
    logits = prototypes @ prototypes.T / temperature
    off = ~torch.eye(num, dtype=torch.bool, device=prototypes.device)
    rows = torch.log((torch.exp(logits) * off).sum(1) / (num - 1))
    rows = rows[~torch.isnan(rows)]
    return temperature / base_temperature * rows.mean()


def compactness_loss(feats: Tensor, labels: Tensor, prototypes: Tensor, temperature: float = 0.1,
                     base_temperature: float = 0.07) -> Tensor:
    """``L_comp`` of the module docstring: cross-entropy of ``z·μ̂ᵀ/τ`` against the labels, times ``τ/τ_c``
    (the prototypes are re-normalised, as the reference)."""
    logits = feats @ F.normalize(prototypes, dim=1).T / temperature
    log_prob = F.log_softmax(logits, dim=1).gather(1, labels.reshape(-1, 1).long()).reshape(-1)
    return -(temperature / base_temperature) * log_prob.mean()


@MODELS.register_module()
class CIDERLoss(nn.Module):
    """CIDER's compactness + dispersion losses with EMA class prototypes (module docstring).

    Buffers: ``prototypes`` (C, D) unit rows (zeros until initialised), ``initialised`` (bool scalar): both in
    checkpoints, so a resumed run continues with the trained prototypes.

    Args:
        num_classes: ``C``.
        feat_dim: ``D`` of the projection (128).
        momentum: ``m`` of the EMA (``proto_m``: 0.95 for CIFAR-10, 0.5 for CIFAR-100).
        temperature: ``τ`` (0.1).
        base_temperature_dis: ``τ_d`` (0.1).
        base_temperature_comp: ``τ_c`` (0.07; the reference's factor 1/0.7 on ``L_comp``).
        weight_dis: ``w_dis`` (0.5).
        weight_comp: ``w_comp`` (1.0).
    """

    def __init__(self, num_classes: int, feat_dim: int = 128, momentum: float = 0.95, temperature: float = 0.1,
                 base_temperature_dis: float = 0.1, base_temperature_comp: float = 0.07, weight_dis: float = 0.5,
                 weight_comp: float = 1.0):
        super().__init__()
        if not 0 <= momentum <= 1:
            raise ConfigError(f'CIDERLoss: momentum must be in [0, 1], got {momentum}')
        if not (temperature > 0 and base_temperature_dis > 0 and base_temperature_comp > 0):
            raise ConfigError('CIDERLoss: temperatures must be > 0')
        if int(num_classes) < 2:
            raise ConfigError(f'CIDERLoss: needs at least 2 classes, got {num_classes}')
        self.num_classes, self.feat_dim = int(num_classes), int(feat_dim)
        self.momentum, self.temperature = float(momentum), float(temperature)
        self.base_temperature_dis, self.base_temperature_comp = float(base_temperature_dis), \
            float(base_temperature_comp)
        self.weight_dis, self.weight_comp = float(weight_dis), float(weight_comp)
        self.register_buffer('prototypes', torch.zeros(self.num_classes, self.feat_dim))
        self.register_buffer('initialised', torch.zeros((), dtype=torch.bool))

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, feat_dim={self.feat_dim}, momentum={self.momentum}, '
                f'temperature={self.temperature}, weights=(dis {self.weight_dis}, comp {self.weight_comp})')

    @torch.no_grad()
    def initialise(self, sums: Tensor, counts: Optional[Tensor] = None) -> None:
        """Set the prototypes to the normalised class means (``sums`` (C, D) of unit projections; only their
        direction matters, so ``counts`` is accepted for clarity but not needed)."""
        if sums.shape != self.prototypes.shape:
            raise ValueError(f'CIDER prototypes: sums of shape {tuple(sums.shape)}, expected '
                             f'{tuple(self.prototypes.shape)}')
        if counts is not None and bool((counts.reshape(-1) == 0).any()):
            missing = torch.nonzero(counts.reshape(-1) == 0).flatten().tolist()
            raise ValueError(f'CIDER prototypes: classes {missing[:10]} have no training image')
        self.prototypes.copy_(F.normalize(sums.to(self.prototypes.dtype), dim=1))
        self.initialised.fill_(True)

    def forward(self, feats: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """The weighted losses ``{'loss_dis', 'loss_comp'}`` of (N, D) unit projections; updates the prototypes
        (training mode only)."""
        protos = prototype_ema(self.prototypes, feats, labels, self.momentum)
        loss_dis = dispersion_loss(protos, self.temperature, self.base_temperature_dis)
        detached = protos.detach()
        loss_comp = compactness_loss(feats, labels, detached, self.temperature, self.base_temperature_comp)
        if self.training:
            self.prototypes.copy_(detached.to(self.prototypes.dtype))
        return dict(loss_dis=self.weight_dis * loss_dis, loss_comp=self.weight_comp * loss_comp)
