"""NNGuide: the classifier's energy guided by the nearest energy-weighted ID-train features.

J. Park, Y. G. Jung, A. B. J. Teoh, "Nearest Neighbor Guidance for Out-of-Distribution Detection", ICCV 2023,
arXiv:2309.14888 (Sec. 3, Eqs. 4-6). A bank of ID-train features ``z_i`` (a subset of round(α N) samples) and a
query ``z`` with logits ``s``::

    unit(x) = x / ‖x‖   (unit(0) = 0)
    g_i = unit(z_i) · lse(s(z_i))                               the guidance bank
    S(z) = lse(s(z)) · (1/K) Σ_{top-K} ⟨unit(z), g_i⟩           the K largest energy-weighted similarities

**Higher = more in-distribution.** Defaults K = 100, α = 0.01 (the paper's ImageNet setting and OpenOOD v1.5's; no
search). The top-K is ranked by the energy-weighted similarity, as OpenOOD's exact inner-product search does; a
negative energy flips its terms' sign, kept. Two fixes against OpenOOD v1.5: its ``x / ‖x‖ + 1e-10`` (operator
precedence: every coordinate shifted by 1e-10, a zero vector NaN) is ``unit`` here, and its bank is the first
``(⌊⌊αN⌋ / B⌋ + 1)`` batches of size B of the unshuffled ID-train loader (dependent on the batch size and on the
list order: the first classes only for a class-sorted list), here a seeded uniform subset (``'loader_prefix'``
reproduces OpenOOD's rows); K larger than the bank is an error (OpenOOD pads with −FLT_MAX).
"""
from typing import Optional

import torch
from torch import Tensor

__all__ = ['BANK_POLICIES', 'nnguide_subset', 'nnguide_bank', 'nnguide_score', 'unit']

BANK_POLICIES = ('uniform', 'loader_prefix')


def unit(x: Tensor) -> Tensor:
    """``x / ‖x‖`` per row, zero rows kept zero (float64)."""
    x = x.to(torch.float64)
    norm = x.norm(dim=1, keepdim=True)
    return x / torch.where(norm > 0, norm, torch.ones_like(norm))


def nnguide_subset(num: int, alpha: float = 0.01, bank_size: Optional[int] = None, seed: int = 0,
                   policy: str = 'uniform', loader_batch_size: int = 200) -> Tensor:
    """Indices (sorted, int64) of the ID-train rows that form the bank.

    ``'uniform'``: ``bank_size`` rows (default ``round(α N)``, half to even) drawn uniformly without replacement by a
    ``torch.Generator`` seeded with ``seed``. ``'loader_prefix'``: OpenOOD v1.5's first
    ``min(N, (⌊⌊αN⌋ / B⌋ + 1) · B)`` rows, ``B = loader_batch_size`` (``bank_size`` and ``seed`` unused).

    Raises:
        ValueError: an unknown policy, or an empty or too large bank.
    """
    if policy not in BANK_POLICIES:
        raise ValueError(f'NNGuide: bank policy must be one of {BANK_POLICIES}, got {policy!r}')
    if policy == 'loader_prefix':
        size = min(num, (int(num * alpha) // int(loader_batch_size) + 1) * int(loader_batch_size))
        return torch.arange(size)
    size = round(alpha * num) if bank_size is None else int(bank_size)
    if not 1 <= size <= num:
        raise ValueError(f'NNGuide: the bank would hold {size} of the {num} ID-train samples (alpha={alpha}, '
                         f'bank_size={bank_size}); it needs 1 to {num}: raise alpha or set bank_size')
    order = torch.randperm(num, generator=torch.Generator().manual_seed(int(seed)))
    return order[:size].sort().values


def nnguide_bank(feats: Tensor, energies: Tensor) -> Tensor:
    """The guidance bank ``g_i = unit(z_i) · lse(s(z_i))`` (M, D) float64 of bank features (M, D) and their
    energies (M,)."""
    if feats.ndim != 2 or energies.shape != (feats.shape[0], ):
        raise ValueError(f'NNGuide: bank features {tuple(feats.shape)} and energies {tuple(energies.shape)} do not '
                         f'fit together')
    return unit(feats) * energies.to(device=feats.device, dtype=torch.float64).unsqueeze(1)


def nnguide_score(feats: Tensor, logits: Tensor, bank: Tensor, k: int = 100) -> Tensor:
    """``lse(s) · mean of the K largest ⟨unit(z), g_i⟩`` (N,) float64 of features (N, D) with logits (N, C).

    Raises:
        ValueError: ``k`` outside ``[1, bank size]``.
    """
    if not 1 <= int(k) <= bank.shape[0]:
        raise ValueError(f'NNGuide: k={k} but the bank holds {bank.shape[0]} ID-train features; use 1 <= k <= '
                         f'{bank.shape[0]} (or a larger bank)')
    sims = unit(feats) @ bank.to(device=feats.device, dtype=torch.float64).T
    guidance = sims.topk(int(k), dim=1).values.mean(dim=1)
    return torch.logsumexp(logits.to(torch.float64), dim=1) * guidance
