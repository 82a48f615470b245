"""Maximum Concept Matching (MCM) score.

Paper: Y. Ming, Z. Cai, J. Gu, Y. Sun, W. Li, Y. Li, "Delving into Out-of-Distribution Detection with
Vision-Language Representations", NeurIPS 2022, arXiv:2211.13445.

Formula, for an image embedding ``h`` and ID prompt embeddings ``e_1..e_K`` (all L2-normalised)::

    S_MCM(x) = max_k  exp(cos(h, e_k) / tau) / sum_j exp(cos(h, e_j) / tau)

The reference uses ``tau = 1`` on raw cosines (no x100 logit scale), which yields a near-uniform softmax
(about ``1/K``). The softmax is therefore always evaluated in float32 or better (fp16/bf16 inputs are upcast,
float64 stays float64), never in half precision (MCM-6, docs/reference_deviations.md).

Sign: **higher = more in-distribution**.
"""
from typing import Union

import torch
from torch import Tensor

__all__ = ['mcm_score']


def _upcast(x: Tensor) -> Tensor:
    """Return ``x`` as a floating tensor of at least float32 precision."""
    if x.dtype == torch.float64:
        return x
    return x.to(torch.float32)


def _check_tau(tau: Union[float, int], name: str = 'tau') -> float:
    tau = float(tau)
    if not tau > 0.0 or tau != tau or tau == float('inf'):
        raise ValueError(f'{name} must be a finite positive number, got {tau!r}.')
    return tau


def max_softmax(z: Tensor, dim: int = -1) -> Tensor:
    """``max softmax(z)`` along ``dim`` as ``1 / sum exp(z - max z)``: no probability tensor is formed.

    The largest probability is ``exp(0) / sum_j exp(z_j - max z)``. This form is accurate to about one float32 ulp
    of the result (~3e-7 at the near-uniform softmax of MCM's ``tau = 1``); ``exp(max - logsumexp)`` is not:
    the log-sum-exp of x100 logits (``tau = 0.01``) rounds at ~2e-6 before the ``exp`` (issue #9, parity with the
    reference's plain ``softmax(z).max()``, which is accurate to ~7e-7).
    """
    return (z - z.amax(dim=dim, keepdim=True)).exp_().sum(dim=dim).reciprocal()


def mcm_score(cos: Tensor, tau: float = 1.0) -> Tensor:
    """Compute the MCM score ``max_k softmax_k(cos / tau)``.

    Args:
        cos (Tensor): Cosine similarities between L2-normalised image and ID text embeddings, shape ``(B, K)``.
        tau (float): Softmax temperature applied to the cosines. The reference uses ``1.0``;
            ``0.01`` corresponds to CLIP's x100 logits. Defaults to 1.0.

    Returns:
        Tensor: Scores of shape ``(B,)``, float32 (float64 if ``cos`` is float64). Higher = more ID.

    Raises:
        ValueError: If ``cos`` is not a 2-D floating tensor with at least one class, or ``tau`` is not
            positive.
    """
    if not isinstance(cos, Tensor):
        raise ValueError(f'cos must be a torch.Tensor, got {type(cos).__name__}.')
    if cos.ndim != 2:
        raise ValueError(f'cos must have shape (B, K), got {tuple(cos.shape)}.')
    if cos.shape[1] < 1:
        raise ValueError('cos must contain at least one ID class (K >= 1).')
    if not cos.is_floating_point():
        raise ValueError(f'cos must be a floating tensor, got dtype {cos.dtype}.')
    tau = _check_tau(tau)
    logits = _upcast(cos)
    return max_softmax(logits if tau == 1.0 else logits / tau, dim=1)
