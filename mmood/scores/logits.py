"""Classifier-logit OOD scores: MSP, MaxLogit, Energy and the L1-norm score.

Papers:

* MSP -- D. Hendrycks, K. Gimpel, "A Baseline for Detecting Misclassified and Out-of-Distribution Examples in
  Neural Networks", ICLR 2017, arXiv:1610.02136. ``S = max_c softmax_c(l / T)``.
* MaxLogit -- D. Hendrycks, S. Basart, M. Mazeika, A. Zou, J. Kwon, M. Mostajabi, J. Steinhardt, D. Song,
  "Scaling Out-of-Distribution Detection for Real-World Settings", ICML 2022, arXiv:1911.11132.
  ``S = max_c l_c``.
* Energy -- W. Liu, X. Wang, J. Owens, Y. Li, "Energy-based Out-of-distribution Detection", NeurIPS 2020,
  arXiv:2010.03759. ``S = T * logsumexp(l / T)``, i.e. the **negative** free energy ``-E(x; T)``.
* L1 norm -- the logit score of PLP (Adaloglou et al., TMLR 2024, arXiv:2303.05828):
  ``S = sum_c (l_c - min_c l_c)`` (logits shifted to be non-negative, then summed).

All inputs are logits of shape ``(N, C)``; computation runs in float32 or better (fp16/bf16 are upcast).

Sign: every score here is **higher = more in-distribution**.
"""
import torch
from torch import Tensor

from .mcm import _check_tau, _upcast, max_softmax

__all__ = ['msp_score', 'maxlogit_score', 'energy_score', 'l1_norm_score', 'LOGIT_SCORES']


def _check_logits(logits: Tensor) -> Tensor:
    if not isinstance(logits, Tensor):
        raise ValueError(f'logits must be a torch.Tensor, got {type(logits).__name__}.')
    if logits.ndim != 2:
        raise ValueError(f'logits must have shape (N, C), got {tuple(logits.shape)}.')
    if logits.shape[1] < 1:
        raise ValueError('logits must contain at least one class (C >= 1).')
    if not logits.is_floating_point():
        raise ValueError(f'logits must be a floating tensor, got dtype {logits.dtype}.')
    return _upcast(logits)


def msp_score(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Maximum softmax probability ``max_c softmax_c(logits / temperature)``.

    Args:
        logits (Tensor): Logits of shape ``(N, C)``.
        temperature (float): Softmax temperature. Defaults to 1.0.

    Returns:
        Tensor: Scores of shape ``(N,)``. Higher = more ID.

    Raises:
        ValueError: On a wrong shape/dtype or a non-positive temperature.
    """
    logits = _check_logits(logits)
    temperature = _check_tau(temperature, 'temperature')
    return max_softmax(logits if temperature == 1.0 else logits / temperature, dim=1)


def maxlogit_score(logits: Tensor) -> Tensor:
    """Maximum logit ``max_c logits_c``.

    Args:
        logits (Tensor): Logits of shape ``(N, C)``.

    Returns:
        Tensor: Scores of shape ``(N,)``. Higher = more ID.

    Raises:
        ValueError: On a wrong shape or dtype.
    """
    return _check_logits(logits).amax(dim=1)


def energy_score(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Negative free energy ``temperature * logsumexp(logits / temperature)``.

    Args:
        logits (Tensor): Logits of shape ``(N, C)``.
        temperature (float): Energy temperature ``T``. Defaults to 1.0.

    Returns:
        Tensor: Scores of shape ``(N,)``, equal to ``-E(x; T)``. Higher = more ID.

    Raises:
        ValueError: On a wrong shape/dtype or a non-positive temperature.
    """
    logits = _check_logits(logits)
    temperature = _check_tau(temperature, 'temperature')
    if temperature == 1.0:  # skip two (N, C) passes
        return torch.logsumexp(logits, dim=1)
    return temperature * torch.logsumexp(logits / temperature, dim=1)


def l1_norm_score(logits: Tensor) -> Tensor:
    """PLP's L1-norm score ``sum_c (logits_c - min_c logits_c)``.

    The logits are shifted so that the smallest one is zero, then summed (the L1 norm of the non-negative
    shifted logits). The reference passes its temperature as the non-negativity flag
    (PLP-6); here the shift is always applied and there is no temperature.

    Args:
        logits (Tensor): Logits of shape ``(N, C)``.

    Returns:
        Tensor: Non-negative scores of shape ``(N,)``. Higher = more ID.

    Raises:
        ValueError: On a wrong shape or dtype.
    """
    logits = _check_logits(logits)
    return (logits - logits.amin(dim=1, keepdim=True)).sum(dim=1)


#: The logit scores by name, each called as ``fn(logits, temperature)`` (MaxLogit and L1 norm ignore the
#: temperature). Heads choose among them with an option (``LogitHead(scores=...)``, ``LinearProbeHead``).
LOGIT_SCORES = {
    'msp': lambda logits, temperature=1.0: msp_score(logits, temperature),
    'maxlogit': lambda logits, temperature=1.0: maxlogit_score(logits),
    'energy': lambda logits, temperature=1.0: energy_score(logits, temperature),
    'l1norm': lambda logits, temperature=1.0: l1_norm_score(logits),
}
