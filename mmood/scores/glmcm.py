"""Global-Local Maximum Concept Matching (GL-MCM) score.

Paper: A. Miyai, Q. Yu, G. Irie, K. Aizawa, "GL-MCM: Global and Local Maximum Concept Matching for Zero-Shot
Out-of-Distribution Detection" (first version titled "Zero-Shot In-Distribution Detection in Multi-Object
Settings Using Vision-Language Foundation Models"), arXiv:2304.04521.

Formulas, with the global image embedding ``h``, the local (patch) embeddings ``h_i`` and ID prompt
embeddings ``e_k`` (all L2-normalised)::

    S_MCM(x)   = max_k softmax_k(cos(h, e_k) / tau)
    S_L-MCM(x) = max_i max_k softmax_k(cos(h_i, e_k) / tau)     (softmax over classes per patch)
    S_GL(x)    = S_MCM(x) + lambda * S_L-MCM(x)

The reference argparse default is ``lambda = 1.0``; the authors recommend ``lambda = 0.5`` for OOD detection,
which is the default here (GL-2, docs/reference_deviations.md). Softmaxes run in float32 or better (MCM-6).

Sign: **higher = more in-distribution**.
"""
import torch
from torch import Tensor

from .mcm import _check_tau, _upcast, max_softmax, mcm_score

__all__ = ['local_mcm_score', 'glmcm_score', 'glmcm_from_parts']


def local_mcm_score(local_cos: Tensor, tau: float = 1.0) -> Tensor:
    """Compute the local MCM score (L-MCM).

    Args:
        local_cos (Tensor): Cosine similarities between L2-normalised patch embeddings and ID text embeddings,
            shape ``(B, P, K)`` or ``(B, H, W, K)``.
        tau (float): Softmax temperature. Defaults to 1.0.

    Returns:
        Tensor: Scores of shape ``(B,)``: softmax over the K classes per patch, then the maximum over patches
        and classes. Higher = more ID.

    Raises:
        ValueError: On a wrong shape, an empty patch or class axis, or a non-positive ``tau``.
    """
    if not isinstance(local_cos, Tensor):
        raise ValueError(f'local_cos must be a torch.Tensor, got {type(local_cos).__name__}.')
    if local_cos.ndim not in (3, 4):
        raise ValueError('local_cos must have shape (B, P, K) or (B, H, W, K), '
                         f'got {tuple(local_cos.shape)}.')
    if not local_cos.is_floating_point():
        raise ValueError(f'local_cos must be a floating tensor, got dtype {local_cos.dtype}.')
    if local_cos.shape[-1] < 1:
        raise ValueError('local_cos must contain at least one ID class (K >= 1).')
    batch = local_cos.shape[0]
    flat = local_cos.reshape(batch, -1, local_cos.shape[-1])
    if flat.shape[1] < 1:
        raise ValueError('local_cos must contain at least one patch.')
    tau = _check_tau(tau)
    flat = _upcast(flat)
    return max_softmax(flat if tau == 1.0 else flat / tau, dim=-1).amax(dim=-1)


def glmcm_score(global_cos: Tensor, local_cos: Tensor, tau: float = 1.0, local_weight: float = 0.5) -> Tensor:
    """Compute the GL-MCM score ``S_MCM + local_weight * S_L-MCM``.

    Args:
        global_cos (Tensor): Global (CLS) image-to-ID-text cosines, shape ``(B, K)``.
        local_cos (Tensor): Patch-to-ID-text cosines, shape ``(B, P, K)`` or ``(B, H, W, K)``.
        tau (float): Softmax temperature shared by both terms. Defaults to 1.0.
        local_weight (float): The weight ``lambda`` of the local term. Defaults to 0.5 (authors'
            recommendation for OOD detection; the reference argparse default is 1.0).

    Returns:
        Tensor: Scores of shape ``(B,)``. Higher = more ID.

    Raises:
        ValueError: If the batch sizes or class counts of the two inputs differ, or on invalid inputs.
    """
    if not isinstance(global_cos, Tensor) or not isinstance(local_cos, Tensor):
        raise ValueError('global_cos and local_cos must be torch.Tensors.')
    if global_cos.ndim != 2:
        raise ValueError(f'global_cos must have shape (B, K), got {tuple(global_cos.shape)}.')
    if local_cos.ndim not in (3, 4):
        raise ValueError('local_cos must have shape (B, P, K) or (B, H, W, K), '
                         f'got {tuple(local_cos.shape)}.')
    if global_cos.shape[0] != local_cos.shape[0]:
        raise ValueError(f'Batch sizes differ: global_cos has {global_cos.shape[0]} rows, '
                         f'local_cos has {local_cos.shape[0]}.')
    if global_cos.shape[1] != local_cos.shape[-1]:
        raise ValueError(f'Class counts differ: global_cos has K={global_cos.shape[1]}, '
                         f'local_cos has K={local_cos.shape[-1]}.')
    return glmcm_from_parts(mcm_score(global_cos, tau), local_mcm_score(local_cos, tau), local_weight)


def glmcm_from_parts(s_mcm: Tensor, s_local: Tensor, local_weight: float = 0.5) -> Tensor:
    """``S_GL = S_MCM + local_weight * S_L-MCM`` from the two scores (B,) (when both are needed anyway).

    Raises:
        ValueError: If ``local_weight`` is not finite.
    """
    local_weight = float(local_weight)
    if local_weight != local_weight or abs(local_weight) == float('inf'):
        raise ValueError(f'local_weight must be finite, got {local_weight!r}.')
    dtype = torch.promote_types(s_mcm.dtype, s_local.dtype)
    return s_mcm.to(dtype) + local_weight * s_local.to(dtype)
