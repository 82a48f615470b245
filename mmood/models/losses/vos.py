"""Virtual outliers by Gaussian sampling in feature space (VOS: Du et al., "VOS: Learning What You Don't Know by
Virtual Outlier Synthesis", ICLR 2022), as TOE's real/virtual study uses them (Park et al., NeurIPS 2023, arXiv
2310.16492, the image/text x real/virtual analysis; docs/toe.md, "The real/virtual study").

Per class a FIFO queue of ``queue_size`` ID features; once every queue is full:

* class means ``mu_c`` of the queues and one shared covariance ``Sigma = X^T X / N + jitter I`` of the queues'
  class-centred features (``N = C * queue_size``);
* ``num_samples`` draws per class from ``N(mu_c, Sigma)`` (reparameterised: ``mu_c + L eps``, ``L L^T = Sigma``), of
  which the ``select`` with the **lowest** density are kept. Under one Gaussian the density falls with the
  Mahalanobis distance ``(x - mu_c)^T Sigma^-1 (x - mu_c) = |eps|^2``, so the kept draws are those with the largest
  ``|eps|``: no density needs evaluating;
* the uncertainty loss: a logistic regression ``Linear(1, 2)`` on the energy ``logsumexp`` of the head's logits,
  ID features labelled 1 and virtual outliers 0, cross-entropy (:class:`VirtualOutlierLoss`).
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ...utils.errors import ConfigError

__all__ = ['gaussian_virtual_outliers', 'VirtualOutlierLoss']


def gaussian_virtual_outliers(queues: Tensor, num_samples: int, select: int, jitter: float = 1e-4,
                              generator: Optional[torch.Generator] = None) -> Tensor:
    """VOS's virtual outliers from full class queues (module docstring).

    Args:
        queues: (C, Q, D) ID features per class.
        num_samples: draws per class.
        select: draws kept per class (the lowest-density ones).
        jitter: added to the covariance's diagonal.
        generator: CPU generator of the draws.

    Returns:
        (C * select, D) virtual outliers in ``queues``' dtype, class by class.
    """
    if not 1 <= int(select) <= int(num_samples):
        raise ConfigError(f'need 1 <= select <= num_samples, got {select}, {num_samples}')
    num_classes, size, dim = queues.shape
    x = queues.detach().double()
    means = x.mean(dim=1)
    centred = (x - means[:, None]).reshape(-1, dim)
    cov = centred.T @ centred / centred.shape[0] + float(jitter) * torch.eye(dim, dtype=x.dtype, device=x.device)
    chol = torch.linalg.cholesky(cov)
    eps = torch.randn((num_classes, int(num_samples), dim), generator=generator, dtype=torch.float64)
    eps = eps.to(x.device)
    keep = (eps * eps).sum(-1).topk(int(select), dim=1).indices  # lowest density = largest |eps|
    picked = torch.gather(eps, 1, keep[..., None].expand(-1, -1, dim))
    out = means[:, None] + picked @ chol.T
    return out.reshape(-1, dim).to(queues.dtype)


@MODELS.register_module()
class VirtualOutlierLoss(nn.Module):
    """VOS's uncertainty loss: ``weight * CE(Linear(1, 2)(energy), [1 for ID, 0 for virtual])``.

    Args:
        weight: the loss weight (0.1 in VOS and TOE's study).
    """

    def __init__(self, weight: float = 0.1):
        super().__init__()
        if not weight >= 0:
            raise ConfigError(f'VirtualOutlierLoss weight must be >= 0, got {weight}')
        self.weight = float(weight)
        self.logistic = nn.Linear(1, 2)

    def forward(self, id_logits: Tensor, virtual_logits: Tensor) -> Dict[str, Tensor]:
        energies = torch.cat([torch.logsumexp(id_logits, 1), torch.logsumexp(virtual_logits, 1)])
        labels = torch.cat([torch.ones(id_logits.shape[0]), torch.zeros(virtual_logits.shape[0])]).long()
        loss = F.cross_entropy(self.logistic(energies[:, None]), labels.to(energies.device))
        return dict(loss_virtual=self.weight * loss)
