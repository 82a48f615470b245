"""DICE: sparsify the last layer's weights by their expected contribution, then the energy.

Y. Sun, Y. Li, "DICE: Leveraging Sparsification for Out-of-Distribution Detection", ECCV 2022, arXiv:2111.09805
(Sec. 3, Eq. 2-4)::

    m    = mean of the ID-train features           per dimension (D,), float64
    V    = m ⊙ W                                   v_cd = m_d · w_cd, the expected contribution of unit d to class c
    t    = pct(V, p)                               numpy ``percentile``, linear interpolation, over all C · D entries
    M    = [V > t]                                 strict: entries tied at t are dropped
    S    = lse(((M ⊙ W) z + b) / n)

``n`` is a per-sample normaliser of the logits (1 for a plain linear head; ``‖z P‖`` in CLIP's zero-shot view,
:class:`mmood.models.heads.LinearView`). The energy (T = 1) is the negative free energy: **higher = more
in-distribution**. Default p = 90 (the paper's and OpenOOD v1.5's ``dice.yml``, which fits m on ID-train features
and does not search p). OpenOOD computes the mask once, at the first batch, so its ``set_hyperparam`` changes nothing;
here the mask is a function of (m, W, p).
"""
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

from .react import linear_energy

__all__ = ['dice_mean', 'dice_mask', 'dice_score']


def dice_mean(feats: Union[Tensor, np.ndarray]) -> Tensor:
    """``m``: the per-dimension mean (D,) of ID-train features (N, D), in float64."""
    feats = torch.as_tensor(feats).detach().to(torch.float64)
    if feats.ndim != 2 or feats.shape[0] == 0:
        raise ValueError(f'DICE fits a mean on (N, D) features with N > 0, got {tuple(feats.shape)}')
    return feats.mean(dim=0)


def dice_mask(mean: Tensor, weight: Tensor, percentile: float = 90.0) -> Tensor:
    """``M = [m ⊙ W > pct(m ⊙ W, p)]`` (C, D) boolean, on ``weight``'s device.

    Raises:
        ValueError: p outside [0, 100) (p = 100 keeps no weight), or shapes that disagree.
    """
    if not 0 <= float(percentile) < 100:
        raise ValueError(f'DICE: percentile must be in [0, 100), got {percentile}')
    if weight.ndim != 2 or mean.shape != (weight.shape[1], ):
        raise ValueError(f'DICE: mean (D,) and weight (C, D) must agree, got {tuple(mean.shape)} and '
                         f'{tuple(weight.shape)}')
    contrib = mean.to(device=weight.device, dtype=torch.float64)[None, :] * weight.to(torch.float64)
    thresh = np.percentile(contrib.cpu().numpy(), float(percentile))
    return contrib > float(thresh)


def dice_score(z: Tensor, weight: Tensor, bias: Optional[Tensor] = None, norm: Optional[Tensor] = None, *,
               mean: Tensor, percentile: float = 90.0) -> Tensor:
    """DICE's score ``lse(((M ⊙ W) z + b) / n)`` per row (N,), the mask from the ID-train mean ``mean``."""
    mask = dice_mask(mean, weight, percentile)
    return linear_energy(z, weight * mask.to(weight.dtype), bias, norm)
