"""TOE's textual outlier exposure: noisy text embeddings and the outlier-exposure loss.

Paper: S. Park, J. Mok, D. Jung, S. Lee, S. Yoon, "On the Powerfulness of Textual Outlier Exposure for Visual OoD
Detection", NeurIPS 2023, arXiv:2310.16492. Reference: ``wiarae/TOE`` ``trainer.py``; docs/toe.md.

With a linear (or MLP) head ``f`` on **raw** CLIP image features ``z`` (ID, labels ``y``) and on noisy unit text
embeddings ``t'`` of outlier strings (the two scales differ by design, TOE-1)::

    t'  = normalize(normalize(t) + ε),   ε ~ N(0, v·I)       v = 0.016: ‖ε‖ ≈ 2.9 ≫ 1, noise dominates
    L   = CE(f(z), y) + λ · mean_j [ logsumexp f(t'_j) − mean_k f(t'_j)_k ]      λ = 0.5

i.e. Hendrycks et al.'s outlier exposure: cross-entropy of the ID images plus cross-entropy of the outliers to
the uniform label. With ``v = 0`` the reference returns ``t`` unnormalised (TOE-2); here ``t'`` is always unit
norm (a documented deviation: the variance-0 ablation then feeds unit vectors like every other setting).

The test score is the energy of the head's logits (:mod:`mmood.scores.logits`), **higher = more in-distribution**.
"""
import math
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ...utils.errors import ConfigError

__all__ = ['add_text_noise', 'uniform_cross_entropy', 'OutlierExposureLoss']


def add_text_noise(emb: Tensor, variance: float = 0.016, noise: Optional[Tensor] = None,
                   generator: Optional[torch.Generator] = None) -> Tensor:
    """``normalize(normalize(emb) + √variance · n)`` with ``n ~ N(0, I)`` (CapDec-style noise, TOE's default).

    Args:
        emb: (N, D) text embeddings (any norm).
        variance: per-dimension noise variance ``v`` (0: no noise, the unit embeddings).
        noise: a fixed standard-normal draw ``n`` of the same shape (tests); None draws one.
        generator: the torch generator of the draw (CPU; the result is moved to ``emb``'s device).

    Returns:
        (N, D) unit rows in ``emb``'s floating dtype (float32 at least).
    """
    if not variance >= 0:
        raise ConfigError(f'noise variance must be >= 0, got {variance}')
    x = emb if emb.dtype == torch.float64 else emb.float()
    x = F.normalize(x, dim=-1)
    if variance == 0:
        return x
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    if noise.shape != x.shape:
        raise ValueError(f'noise of shape {tuple(noise.shape)} for embeddings of shape {tuple(x.shape)}')
    return F.normalize(x + math.sqrt(variance) * noise.to(device=x.device, dtype=x.dtype), dim=-1)


def uniform_cross_entropy(logits: Tensor) -> Tensor:
    """Mean cross-entropy of (N, C) logits to the uniform label: ``mean_j [lse(u_j) − mean_k u_jk]`` (0 if N = 0)."""
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    return (torch.logsumexp(logits, dim=1) - logits.mean(dim=1)).mean()


@MODELS.register_module()
class OutlierExposureLoss(nn.Module):
    """Cross-entropy of ID logits + ``weight`` × cross-entropy of outlier logits to the uniform label (TOE, OE).

    Args:
        weight: ``λ`` (0.5 in TOE; 0 trains the plain cross-entropy head, TOE's ``--no_exposure``).
    """

    def __init__(self, weight: float = 0.5):
        super().__init__()
        if not weight >= 0:
            raise ConfigError(f'OutlierExposureLoss weight must be >= 0, got {weight}')
        self.weight = float(weight)

    def forward(self, id_logits: Tensor, labels: Tensor, outlier_logits: Tensor) -> Dict[str, Tensor]:
        """``dict(loss_cls=CE, loss_oe=λ·OE)``: mmengine sums the two into the training loss.

        Args:
            id_logits: (B, C) logits of ID images.
            labels: (B,) class indices.
            outlier_logits: (M, C) logits of noisy outlier text embeddings.
        """
        return dict(loss_cls=F.cross_entropy(id_logits, labels.long()),
                    loss_oe=self.weight * uniform_cross_entropy(outlier_logits))
