"""GradNorm: the L1 norm of the gradient of a KL-to-uniform loss with respect to the last layer's weights.

R. Huang, A. Geng, Y. Li, "On the Importance of Gradients for Detecting Distributional Shifts in the Wild",
NeurIPS 2021, arXiv:2110.00218 (the score of Sec. 3; its split into a feature norm and an
output-space term in the paper's analysis). For a last layer ``l = W z + b`` (C classes) and
``p = softmax(l)`` (temperature 1), OpenOOD v1.5's ``GradNormPostprocessor`` back-propagates
``L = Σ_c −log p_c`` (all-ones targets; the paper's uniform targets 1/C give the same score divided by C) one sample
at a time and takes the entry-wise L1 norm of ``∂L/∂W`` (the bias gradient left out). Since
``∂L/∂l_c = C·p_c − 1`` and ``∂L/∂W = (C·p − 1) zᵀ``, that is the closed form::

    S = ‖z‖₁ · Σ_c |C·p_c − 1|

(0 for z = 0 or a uniform p). A confident softmax is far from uniform, so its gradient is large: **higher = more
in-distribution**. No hyper-parameter, no fit (OpenOOD v1.5 searches nothing).
"""
import torch
from torch import Tensor

from .logits import _check_logits

__all__ = ['gradnorm_score']


def gradnorm_score(features: Tensor, logits: Tensor) -> Tensor:
    """``‖z‖₁ · Σ_c |C·softmax_c(l) − 1|`` per row (N,), computed in float64.

    Args:
        features: (N, D) the input ``z`` of the last layer.
        logits: (N, C) that layer's output ``l = W z + b``.

    Raises:
        ValueError: logits not a floating (N, C) tensor, or features not (N, D) with the same N.
    """
    logits = _check_logits(logits).to(torch.float64)
    if not isinstance(features, Tensor) or features.ndim != 2 or features.shape[0] != logits.shape[0]:
        raise ValueError(f'GradNorm: features must be a (N, D) tensor with N = {logits.shape[0]}, got '
                         f'{tuple(getattr(features, "shape", ()))}')
    num = logits.shape[1]
    spread = (num * logits.softmax(dim=1) - 1.0).abs().sum(dim=1)
    return features.to(device=logits.device, dtype=torch.float64).abs().sum(dim=1) * spread
