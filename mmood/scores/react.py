"""ReAct: rectified activations, then the energy of the classifier's logits.

Y. Sun, C. Guo, Y. Li, "ReAct: Out-of-distribution Detection With Rectified Activations", NeurIPS 2021,
arXiv:2111.12797 (Sec. 3, Eq. 1-2)::

    c = pct(F, q)                                 one scalar: the q-th percentile of ALL ID activations (N · D)
    z̄ = min(z, c)                                 an upper clip only; negative activations pass unchanged
    S = lse((W z̄ + b) / n)                        the energy (T = 1) of the logits of the clipped feature

``pct`` is numpy's ``percentile`` with linear interpolation over the flattened matrix, computed in float64. ``n`` is a
per-sample normaliser of the logits (1 for a plain linear head; the frozen ``‖z P‖`` of CLIP's zero-shot view,
:class:`mmood.models.heads.LinearView`). The energy is the negative free energy, so the score is **higher = more
in-distribution**. Default q = 90 (the paper's and OpenOOD v1.5's; OpenOOD searches q ∈ {85, 90, 95, 99} on an
OOD-val set). OpenOOD fits c on ID-val features; which features mmood fits on is the caller's choice (the head: the
config's ID-train set).

:func:`linear_energy` is the energy of ``(W z' + b) / n`` that ASH, SCALE and DICE share.
"""
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

__all__ = ['react_threshold', 'react_shape', 'react_score', 'linear_energy']


def linear_energy(shaped: Tensor, weight: Tensor, bias: Optional[Tensor] = None,
                  norm: Optional[Tensor] = None) -> Tensor:
    """``logsumexp((shaped Wᵀ + b) / n)`` per row (N,): the energy (T = 1) of a linear head's logits.

    Args:
        shaped: (N, D) features (already shaped by the detector).
        weight: (C, D) last-layer weight ``W``.
        bias: (C,) bias ``b``, or None (zeros).
        norm: (N, 1) or (N,) per-sample normaliser ``n``, or None (ones).
    """
    if shaped.ndim != 2 or weight.ndim != 2 or shaped.shape[1] != weight.shape[1]:
        raise ValueError(f'features (N, D) and weight (C, D) must agree, got {tuple(shaped.shape)} and '
                         f'{tuple(weight.shape)}')
    dtype = torch.promote_types(shaped.dtype, torch.float32)
    shaped = shaped.to(dtype)
    logits = shaped @ weight.to(device=shaped.device, dtype=dtype).T
    if bias is not None:
        logits = logits + bias.to(device=shaped.device, dtype=dtype)
    if norm is not None:
        logits = logits / norm.to(device=shaped.device, dtype=dtype).reshape(-1, 1)
    return torch.logsumexp(logits, dim=1)


def react_threshold(activations: Union[Tensor, np.ndarray], percentile: float = 90.0) -> float:
    """``c``: the ``percentile``-th percentile (numpy, linear interpolation, float64) of every entry of
    ``activations`` (any shape, flattened: samples and dimensions pooled).

    Raises:
        ValueError: ``percentile`` outside [0, 100] or no activations.
    """
    if not 0 <= float(percentile) <= 100:
        raise ValueError(f'ReAct: percentile must be in [0, 100], got {percentile}')
    if isinstance(activations, Tensor):
        activations = activations.detach().cpu().to(torch.float64).numpy()
    flat = np.array(activations, dtype=np.float64).ravel()  # a copy: the partition below may reorder it
    if flat.size == 0:
        raise ValueError('ReAct: no activations to take a percentile of')
    return float(np.percentile(flat, float(percentile), overwrite_input=True))


def react_shape(z: Tensor, threshold: float) -> Tensor:
    """``min(z, c)`` (a new tensor; ``z`` is not modified)."""
    return z.clamp(max=float(threshold))


def react_score(z: Tensor, weight: Tensor, bias: Optional[Tensor] = None, norm: Optional[Tensor] = None, *,
                threshold: float) -> Tensor:
    """ReAct's score ``lse((W min(z, c) + b) / n)`` per row (N,); ``norm`` of the unclipped ``z``."""
    return linear_energy(react_shape(z, threshold), weight, bias, norm)
