"""SCALE: rescale the whole feature by ASH-S's sharpening factor, then the energy.

K. Xu, R. Chen, G. Franchi, A. Yao, "Scaling for Training Time and Post-hoc Out-of-distribution Detection
Enhancement", ICLR 2024, arXiv:2310.00227 (Sec. 4, Eq. 3-4)::

    k  = D − round(D · q / 100)                   as ASH (round half to even; 0 ≤ q < 100)
    s₁ = Σ_d z_d,   s₂ = Σ_{d ∈ top-k(z)} z_d,   r = s₁ / s₂      (s₂ = 0: r = 0)
    z' = z · e^r                                  the unpruned feature, scaled
    S  = lse((e^r W z + b) / n)                   the bias is not scaled

``n`` is a per-sample normaliser of the logits (1 for a plain linear head; the frozen ``‖z P‖`` of the unshaped
feature in CLIP's zero-shot view, :class:`mmood.models.heads.LinearView`, which keeps the global rescale). The energy
(T = 1) is the negative free energy: **higher = more in-distribution**. No fit. Default q = 85 (OpenOOD v1.5's
``scale.yml``; it searches q ∈ {65, 70, ..., 95} on an OOD-val set). As ASH: ties broken by index (they change no
sum here), s₂ = 0 gives factor 1 instead of NaN, a q that keeps nothing is refused, the input is never modified.
"""
from typing import Optional

from torch import Tensor

from .ash import sharpen_ratio
from .react import linear_energy

__all__ = ['scale_shape', 'scale_score']


def scale_shape(z: Tensor, percentile: float = 85.0) -> Tensor:
    """``z · e^r`` (a new tensor; ``z`` is not modified)."""
    return z * sharpen_ratio(z, percentile).exp().unsqueeze(1)


def scale_score(z: Tensor, weight: Tensor, bias: Optional[Tensor] = None, norm: Optional[Tensor] = None,
                percentile: float = 85.0) -> Tensor:
    """SCALE's score ``lse((e^r W z + b) / n)`` per row (N,); ``norm`` of the unscaled ``z``."""
    return linear_energy(scale_shape(z, percentile), weight, bias, norm)
