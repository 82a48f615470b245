"""CLIPN scores: CTW ("competing-to-win") and ATD ("agreeing-to-differ").

Paper: H. Wang, Y. Li, H. Yao, X. Li, "CLIPN for Zero-Shot OOD Detection: Teaching CLIP to Say No", ICCV 2023,
arXiv:2308.12213.

CLIPN adds a "no" text tower to CLIP. For an image embedding ``f`` and per-class "yes" / "no" text embeddings
``g_c`` / ``h_c`` (all L2-normalised), with the cosines ``cos_yes_c = f . g_c`` and ``cos_no_c = f . h_c`` and the
logit scale ``s`` (the reference uses the literal 100 at inference, CN-8)::

    l_yes_c = s * cos_yes_c,   l_no_c = s * cos_no_c
    p_yes_c = sigmoid(l_yes_c - l_no_c)              # the "yes" probability of class c
    CTW     = p_yes_{c^},  c^ = argmax_c l_yes_c     # first index on ties
    ATD     = sum_c p_yes_c * softmax_c(l_yes)       # = 1 - P(unknown) of the paper's C+1-class view

MSP, MaxLogit and Energy of ``l_yes`` (also reported by CLIPN) live in :mod:`mmood.scores.logits`.

Both scores lie in ``[0, 1]``. An untrained CLIPN (no tower = yes tower, ``h = g``) gives ``p_yes = 0.5`` and
therefore ``CTW = ATD = 0.5`` for every image. The paper's hard decision rules (CTW rejects when
``CTW < 0.5``, ATD when ``1 - ATD`` exceeds every ID class probability) are not applied here: like the reference
code, mmood reports the continuous scores.

Computation runs in float32 or better (fp16/bf16 inputs are upcast, float64 stays float64).

Sign: **higher = more in-distribution** for both scores.
"""
from typing import Dict, Tuple

import torch
from torch import Tensor

from .mcm import _check_tau, _upcast

__all__ = ['clipn_scores', 'clipn_p_yes']


def _check_pair(cos_yes: Tensor, cos_no: Tensor) -> Tuple[Tensor, Tensor]:
    """Validate the (B, C) cosine pair and return it in a common dtype of at least float32."""
    for name, value in (('cos_yes', cos_yes), ('cos_no', cos_no)):
        if not isinstance(value, Tensor):
            raise ValueError(f'{name} must be a torch.Tensor, got {type(value).__name__}.')
        if value.ndim != 2:
            raise ValueError(f'{name} must have shape (B, C), got {tuple(value.shape)}.')
        if not value.is_floating_point():
            raise ValueError(f'{name} must be a floating tensor, got dtype {value.dtype}.')
    if cos_yes.shape != cos_no.shape:
        raise ValueError(f'cos_yes and cos_no must have the same shape (B, C), got {tuple(cos_yes.shape)} and '
                         f'{tuple(cos_no.shape)}.')
    if cos_yes.shape[1] < 1:
        raise ValueError('cos_yes and cos_no must contain at least one ID class (C >= 1).')
    if torch.float64 in (cos_yes.dtype, cos_no.dtype):
        return cos_yes.double(), cos_no.double()
    return _upcast(cos_yes), _upcast(cos_no)


def _yes_logits_and_p_yes(cos_yes: Tensor, cos_no: Tensor, logit_scale: float) -> Tuple[Tensor, Tensor]:
    cos_yes, cos_no = _check_pair(cos_yes, cos_no)
    scale = _check_tau(logit_scale, 'logit_scale')
    l_yes = scale * cos_yes
    return l_yes, torch.sigmoid(l_yes - scale * cos_no)


def _ctw(l_yes: Tensor, p_yes: Tensor) -> Tensor:
    # torch.argmax returns the first maximal index (documented), the tie rule of the reference's max().
    return p_yes.gather(1, l_yes.argmax(dim=1, keepdim=True)).squeeze(1)


def _atd(l_yes: Tensor, p_yes: Tensor) -> Tensor:
    return (p_yes * torch.softmax(l_yes, dim=1)).sum(dim=1)


def clipn_p_yes(cos_yes: Tensor, cos_no: Tensor, logit_scale: float = 100.0) -> Tensor:
    """Per-class "yes" probabilities ``p_yes_c = sigmoid(s * (cos_yes_c - cos_no_c))``.

    Args:
        cos_yes (Tensor): Cosines of the image with the "yes" class embeddings, shape ``(B, C)``.
        cos_no (Tensor): Cosines of the image with the "no" class embeddings, shape ``(B, C)``.
        logit_scale (float): The scale ``s`` of both logit matrices. Defaults to 100.0 (the reference's literal
            inference scale).

    Returns:
        Tensor: ``(B, C)`` probabilities in ``[0, 1]``, float32 (float64 if an input is float64).

    Raises:
        ValueError: On wrong shapes/dtypes or a non-positive scale.
    """
    return _yes_logits_and_p_yes(cos_yes, cos_no, logit_scale)[1]


def clipn_scores(cos_yes: Tensor, cos_no: Tensor, logit_scale: float = 100.0) -> Dict[str, Tensor]:
    """CLIPN's CTW and ATD scores (see the module docstring for the formulas).

    Args:
        cos_yes (Tensor): Cosines of the image with the "yes" class embeddings, shape ``(B, C)``.
        cos_no (Tensor): Cosines of the image with the "no" class embeddings, shape ``(B, C)``.
        logit_scale (float): The scale ``s`` of both logit matrices. Defaults to 100.0 (the reference's literal
            inference scale, CN-8).

    Returns:
        dict: ``{'ctw': (B,), 'atd': (B,)}``, float32 (float64 if an input is float64), both in ``[0, 1]``.
        Higher = more ID.

    Raises:
        ValueError: If the inputs are not floating ``(B, C)`` tensors of the same shape with ``C >= 1``, or the
            scale is not a finite positive number.
    """
    l_yes, p_yes = _yes_logits_and_p_yes(cos_yes, cos_no, logit_scale)
    return {'ctw': _ctw(l_yes, p_yes), 'atd': _atd(l_yes, p_yes)}
