"""ASH: activation shaping (prune the smallest activations of each sample, then fill or rescale), then the energy.

A. Djurisic, N. Bozanic, A. Ashok, R. Liu, "Extremely Simple Activation Shaping for Out-of-Distribution Detection",
ICLR 2023, arXiv:2209.09858 (Sec. 3, Algorithm 1)::

    k  = D − round(D · q / 100)                   per sample, round half to even (numpy ``round``); 0 ≤ q < 100
    K  = the k largest entries of z               stable descending order: among tied values the lower index wins
    s₁ = Σ_d z_d
    ASH-P:  z' = z on K, 0 elsewhere
    ASH-B:  z' = s₁ / k on K, 0 elsewhere         (OpenOOD v1.5's only reachable variant)
    ASH-S:  a = ASH-P(z),  s₂ = Σ_d a_d,  z' = a · exp(s₁ / s₂)     (s₂ = 0: ratio 0, factor 1)
    S  = lse((W z' + b) / n)

``n`` is a per-sample normaliser of the logits (1 for a plain linear head; the frozen ``‖z P‖`` of the unshaped
feature in CLIP's zero-shot view, :class:`mmood.models.heads.LinearView`). The energy (T = 1) is the negative free
energy: **higher = more in-distribution**. No fit. Defaults q = 90, variant ``'b'`` (OpenOOD v1.5's ``ash.yml`` and
its ``ASHNet``, which always applies ASH-B; it searches q ∈ {65, 70, ..., 95} on an OOD-val set).

Departures from OpenOOD's ``ash_p`` / ``ash_b`` / ``ash_s``, all on inputs where they are undefined or unspecified:
ties at the k-th value are broken by index (``torch.topk``'s order among ties is unspecified); s₂ = 0 gives factor 1
instead of 0/0 = NaN; q = 100 (k = 0) and any q that keeps no entry are refused; the input is never modified (the
reference zeroes it in place).
"""
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .react import linear_energy

__all__ = ['ASH_VARIANTS', 'ash_keep_count', 'top_k_stable', 'ash_shape', 'ash_score', 'sharpen_ratio']

ASH_VARIANTS = ('b', 'p', 's')


def ash_keep_count(dim: int, percentile: float) -> int:
    """``k = D − round_half_even(D · q / 100)``, the number of entries kept per sample.

    Raises:
        ValueError: q outside [0, 100) or k < 1 (nothing kept: a small D with q near 100).
    """
    q = float(percentile)
    if not 0 <= q < 100:
        raise ValueError(f'ASH/SCALE: percentile must be in [0, 100), got {percentile}')
    k = int(dim) - int(np.round(int(dim) * q / 100.0))
    if k < 1:
        raise ValueError(f'ASH/SCALE: percentile {percentile} keeps no entry of a {dim}-d feature (k = {k})')
    return k


def top_k_stable(z: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """``(values, indices)`` (N, k) of the k largest entries per row in stable descending order (ties: the lower
    index first), so which tied entries are kept is defined."""
    values, indices = torch.sort(z, dim=1, descending=True, stable=True)
    return values[:, :k], indices[:, :k]


def _prune(z: Tensor, k: int) -> Tensor:
    values, indices = top_k_stable(z, k)
    return torch.zeros_like(z).scatter(1, indices, values)


def sharpen_ratio(z: Tensor, percentile: float) -> Tensor:
    """``r = s₁ / s₂`` (N,): the sum of ``z`` over the sum of its top-k entries (ASH-S, SCALE); 0 where s₂ = 0."""
    _check_features(z)
    return _ratio(z, _prune(z, ash_keep_count(z.shape[1], percentile)))


def _ratio(z: Tensor, pruned: Tensor) -> Tensor:
    s1, s2 = z.sum(dim=1), pruned.sum(dim=1)
    return torch.where(s2 == 0, torch.zeros_like(s1), s1 / torch.where(s2 == 0, torch.ones_like(s2), s2))


def ash_shape(z: Tensor, percentile: float = 90.0, variant: str = 'b') -> Tensor:
    """ASH-``variant`` of ``z`` (N, D) (a new tensor; ``z`` is not modified).

    Raises:
        ValueError: an unknown variant, q outside [0, 100) or nothing kept, ``z`` not a floating (N, D) tensor.
    """
    if variant not in ASH_VARIANTS:
        raise ValueError(f'ASH: variant must be one of {ASH_VARIANTS}, got {variant!r}')
    _check_features(z)
    k = ash_keep_count(z.shape[1], percentile)
    if variant == 'b':
        _, indices = top_k_stable(z, k)
        fill = (z.sum(dim=1, keepdim=True) / k).expand(-1, k)
        return torch.zeros_like(z).scatter(1, indices, fill)
    pruned = _prune(z, k)
    if variant == 'p':
        return pruned
    return pruned * _ratio(z, pruned).exp().unsqueeze(1)


def ash_score(z: Tensor, weight: Tensor, bias: Optional[Tensor] = None, norm: Optional[Tensor] = None,
              percentile: float = 90.0, variant: str = 'b') -> Tensor:
    """ASH's score ``lse((W ash(z) + b) / n)`` per row (N,); ``norm`` of the unshaped ``z``."""
    return linear_energy(ash_shape(z, percentile, variant), weight, bias, norm)


def _check_features(z: Tensor) -> None:
    if not isinstance(z, Tensor) or z.ndim != 2 or not z.is_floating_point():
        raise ValueError(f'features must be a floating (N, D) tensor, got '
                         f'{getattr(z, "dtype", type(z).__name__)} {tuple(getattr(z, "shape", ()))}')
