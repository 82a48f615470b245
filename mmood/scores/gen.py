"""GEN: the generalized entropy of the softmax distribution.

X. Liu, Y. Lochman, C. Zach, "GEN: Pushing the Limits of Softmax-Based Out-of-Distribution Detection", CVPR 2023
(Sec. 3, Eq. 6)::

    p = softmax(l)                                  l: (N, C) classifier logits
    G_γ(p) = Σ_{j ∈ top-M(p)} p_j^γ (1 − p_j)^γ     over the M largest probabilities (all of them when M ≥ C)
    S = −G_γ(p)

A peaked distribution (one p_j near 1, the rest near 0) has a small generalized entropy, so the score is
**higher = more in-distribution**. Defaults γ = 0.1, M = 100 (the paper's and OpenOOD v1.5's; OpenOOD searches
γ ∈ {0.01, 0.1, 0.5, 1, 2, 5, 10} × M ∈ {10, 50, 100, 200, 500, 1000}). No fit.
"""
from torch import Tensor

from .logits import _check_logits

__all__ = ['gen_score']


def gen_score(logits: Tensor, gamma: float = 0.1, top_m: int = 100) -> Tensor:
    """``-Σ_{top-M} p^γ (1 - p)^γ`` of ``softmax(logits)`` per row (N,); float32 or better.

    Raises:
        ValueError: ``gamma`` not positive, ``top_m`` below 1, or logits not a floating (N, C) tensor.
    """
    if not float(gamma) > 0:
        raise ValueError(f'GEN: gamma must be positive, got {gamma}')
    if int(top_m) < 1:
        raise ValueError(f'GEN: top_m must be at least 1, got {top_m}')
    probs = _check_logits(logits).softmax(dim=1)
    top = probs.topk(min(int(top_m), probs.shape[1]), dim=1).values
    return -(top.pow(gamma) * (1.0 - top).pow(gamma)).sum(dim=1)
