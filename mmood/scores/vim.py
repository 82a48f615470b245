"""ViM: virtual-logit matching of the feature's residual against the classifier's energy.

H. Wang, Z. Li, L. Feng, W. Zhang, "ViM: Out-Of-Distribution with Virtual-logit Matching", CVPR 2022,
arXiv:2203.10807 (Sec. 3, Eqs. 3-6). On a penultimate feature ``z`` (D) with logits ``s`` (C) of a linear head
``W z + b``, fitted on ID-train features ``z_i``::

    o = −W⁺ b                                   the origin (Moore-Penrose pseudo-inverse; o = 0 when b = 0)
    Σ = (1/N) Σ_i (z_i − o)(z_i − o)ᵀ             not centred on the mean of the z_i (OpenOOD v1.5:
                                                  EmpiricalCovariance(assume_centered=True))
    R = eigenvectors of Σ of all but the `dim` largest eigenvalues            (D × (D − dim))
    α = mean_i max_c s_c(z_i) / mean_i ‖Rᵀ(z_i − o)‖                          (the max logit, not the energy)
    S(z) = lse(s) − α ‖Rᵀ(z − o)‖

**Higher = more in-distribution** (a large residual outside the principal subspace, the "virtual logit", lowers
the score). Default ``dim = 256``: OpenOOD v1.5's published ViM (its sweep {256, 1000} recomputed nothing before
2025-10, so its tables used 256); the authors' rule is ``dim = 1000`` for D ≥ 2048, else 512. ``0 < dim < D`` is
required (OpenOOD gives NaN scores for ``dim ≥ D``). The eigenvectors come from ``eigh`` of the symmetric Σ
(OpenOOD calls ``eig``, which may return a complex dtype; the subspaces agree unless the eigenvalues at the cut are
degenerate). Fits run in float64, in row chunks (no (N, D) intermediate besides the features).
"""
from typing import Dict, Optional

import torch
from torch import Tensor

__all__ = ['vim_origin', 'fit_vim', 'residual_norms', 'vim_score']


def _check_features(feats: Tensor, who: str = 'ViM') -> Tensor:
    if not isinstance(feats, Tensor) or feats.ndim != 2 or not feats.is_floating_point():
        raise ValueError(f'{who}: features must be a floating (N, D) tensor, got '
                         f'{getattr(feats, "shape", type(feats).__name__)}')
    return feats


def vim_origin(weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``o = −W⁺ b`` (D,) in float64; zeros when ``b`` is None or zero (no pseudo-inverse formed)."""
    weight = weight.to(torch.float64)
    if bias is None or not bool(torch.any(bias != 0)):
        return torch.zeros(weight.shape[1], dtype=torch.float64, device=weight.device)
    return -(torch.linalg.pinv(weight) @ bias.to(device=weight.device, dtype=torch.float64))


def fit_vim(feats: Tensor, max_logits: Tensor, weight: Tensor, bias: Optional[Tensor] = None, dim: int = 256,
            chunk_size: int = 65536) -> Dict[str, Tensor]:
    """ViM's statistics of ID-train features.

    Args:
        feats: (N, D) ID-train features ``z_i`` (any float dtype; upcast per chunk).
        max_logits: (N,) ``max_c s_c(z_i)``, the largest logit of each ID-train sample.
        weight: (C, D) ``W``; bias: (C,) ``b`` or None (zero).
        dim: the principal-subspace dimension, ``0 < dim < D``.
        chunk_size: rows per chunk.

    Returns:
        dict(origin (D,), residual (D, D − dim) ``R``, alpha (scalar) ``α``, eigenvalues (D,) ascending), float64.

    Raises:
        ValueError: ``dim`` outside ``(0, D)``, no features, or shapes that disagree.
    """
    feats = _check_features(feats)
    num, d = feats.shape
    if not 0 < int(dim) < d:
        raise ValueError(f'ViM: dim must satisfy 0 < dim < D = {d} (the residual space has D - dim dimensions), '
                         f'got dim={dim}')
    if num < 1 or tuple(max_logits.shape) != (num, ) or weight.shape[1] != d:
        raise ValueError(f'ViM: {num} features of dimension {d}, {tuple(max_logits.shape)} max logits and a '
                         f'{tuple(weight.shape)} weight do not fit together')
    origin = vim_origin(weight, bias).to(feats.device)
    cov = torch.zeros(d, d, dtype=torch.float64, device=feats.device)
    for start in range(0, num, chunk_size):
        x = feats[start:start + chunk_size].to(torch.float64) - origin
        cov += x.T @ x
    eigenvalues, vectors = torch.linalg.eigh(cov / num)
    residual = vectors[:, :d - int(dim)].contiguous()  # eigh: ascending, so all but the dim largest
    norms = residual_norms(feats, origin, residual, chunk_size)
    alpha = max_logits.to(device=feats.device, dtype=torch.float64).mean() / norms.mean()
    return dict(origin=origin, residual=residual, alpha=alpha, eigenvalues=eigenvalues)


def residual_norms(feats: Tensor, origin: Tensor, residual: Tensor, chunk_size: int = 65536) -> Tensor:
    """``‖Rᵀ(z − o)‖`` (N,) in float64."""
    return torch.cat([((feats[s:s + chunk_size].to(torch.float64) - origin) @ residual).norm(dim=1)
                      for s in range(0, feats.shape[0], chunk_size)])


def vim_score(feats: Tensor, logits: Tensor, vim: Dict[str, Tensor]) -> Tensor:
    """``lse(s) − α ‖Rᵀ(z − o)‖`` (N,) in float64 (``vim``: :func:`fit_vim`'s statistics)."""
    feats = _check_features(feats)
    energy = torch.logsumexp(logits.to(torch.float64), dim=1)
    origin, residual = vim['origin'].to(feats.device), vim['residual'].to(feats.device)
    return energy - vim['alpha'].to(feats.device) * residual_norms(feats, origin, residual)
