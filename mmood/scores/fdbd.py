"""fDBD: the feature's distance to the decision boundaries, regularised by its distance to the ID-train mean.

L. Liu, Y. Qin, "Fast Decision Boundary based Out-of-Distribution Detector", ICML 2024, arXiv:2312.11536
(Sec. 3, Eqs. 3-5). On a penultimate feature ``z`` and the affine logits ``s = W z + b`` (rows ``w_c``), with
``ŷ = argmax s`` and the ID-train mean ``μ``::

    d_j(z) = |s_ŷ − s_j| / ‖w_ŷ − w_j‖                 the exact distance from z to the boundary between ŷ and j
    S(z) = Σ_{j ≠ ŷ} d_j(z) / ‖z − μ‖                  distance_as_normalizer=True (default)
    S(z) = Σ_{j ≠ ŷ} d_j(z) / ‖z‖                      distance_as_normalizer=False

**Higher = more in-distribution** (ID features lie far from the boundaries relative to their spread). The sum over
j is OpenOOD v1.5's; the paper averages over the C − 1 classes, a constant factor (same ranking). OpenOOD v1.5's
default is ``distance_as_normalizer=True`` (its search: {True, False}). Pairs of identical weight rows (duplicate
CLIP class names give identical prototypes; rows equal to rounding, ``‖w_i − w_j‖ ≤ 1e-4 · max_c ‖w_c‖``) have no
boundary: they contribute 0 (OpenOOD divides 0 by 0, NaN). ``‖z − μ‖ = 0`` divides by zero, as in OpenOOD.
The numerator needs the *affine* logits ``W z + b``: a scaled classifier (CLIP's zero-shot ``W z / ‖z P‖``) is not
the distance to its own boundaries.
"""
from typing import Dict

import torch
from torch import Tensor

__all__ = ['DUPLICATE_RTOL', 'boundary_norms', 'fit_fdbd', 'fdbd_score']

#: weight rows closer than this times the largest row norm are the same class twice (no boundary between them)
DUPLICATE_RTOL = 1e-4


def boundary_norms(weight: Tensor) -> Tensor:
    """``‖w_i − w_j‖`` (C, C) float64, computed from the differences (no ``‖a‖² + ‖b‖² − 2ab`` cancellation), with
    0 on the diagonal and for rows equal to rounding (:data:`DUPLICATE_RTOL`)."""
    w = weight.to(torch.float64)
    norms = torch.cdist(w, w, compute_mode='donot_use_mm_for_euclid_dist')
    return torch.where(norms > DUPLICATE_RTOL * w.norm(dim=1).max(), norms, torch.zeros_like(norms))


def fit_fdbd(feats: Tensor, weight: Tensor) -> Dict[str, Tensor]:
    """``dict(center=μ (D,), pair_norms=‖w_i − w_j‖ (C, C))``, float64, of ID-train features (N, D) and ``W``."""
    if feats.ndim != 2 or feats.shape[0] < 1 or feats.shape[1] != weight.shape[1]:
        raise ValueError(f'fDBD: ID-train features {tuple(feats.shape)} do not fit a {tuple(weight.shape)} weight')
    return dict(center=feats.sum(dim=0, dtype=torch.float64) / feats.shape[0], pair_norms=boundary_norms(weight))


def fdbd_score(feats: Tensor, affine_logits: Tensor, pair_norms: Tensor, center: Tensor = None,
               distance_as_normalizer: bool = True) -> Tensor:
    """fDBD's score (N,) float64 of features (N, D) and their affine logits ``W z + b`` (N, C).

    Args:
        pair_norms: :func:`boundary_norms` of ``W`` (C, C).
        center: (D,) the ID-train mean ``μ`` (needed when ``distance_as_normalizer``).
        distance_as_normalizer: divide by ``‖z − μ‖`` (True) or by ``‖z‖``.
    """
    s = affine_logits.to(torch.float64)
    top, pred = s.max(dim=1)
    den = pair_norms.to(device=s.device, dtype=torch.float64)[pred]
    ratio = (top.unsqueeze(1) - s).abs() / torch.where(den > 0, den, torch.ones_like(den))
    num = torch.where(den > 0, ratio, torch.zeros_like(ratio)).sum(dim=1)
    z = feats.to(device=s.device, dtype=torch.float64)
    if distance_as_normalizer:
        if center is None:
            raise ValueError('fDBD: distance_as_normalizer=True needs the ID-train mean (center)')
        z = z - center.to(device=z.device, dtype=torch.float64)
    return num / z.norm(dim=1)
