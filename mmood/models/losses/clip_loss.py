"""CLIP's symmetric contrastive (InfoNCE) loss, distributed-aware.

For a batch of N matching (image, text) pairs with unit embeddings f_i, g_i and logit scale s::

    L = ( CE(s · F Gᵀ, arange N) + CE(s · G Fᵀ, arange N) ) / 2

Under DDP the batch is the **global** batch: every rank all-gathers the features of all ranks, puts its own
(differentiable) tensors back in its slice -- so gradient flows through the local chunk only -- and builds the
full N x N logit matrix; the diagonal of rank r's rows sits at columns ``r · B + arange(B)``. Every rank then
holds the same loss value, and the per-rank gradients sum to the gradient of the single-process loss on the
concatenated batch -- for the features and for a learnable logit scale, which each rank credits only with its
own rows. DDP's averaging therefore yields the full-batch gradient divided by the world size (as in open_clip
and CLIPN; Adam-type optimizers are insensitive to that factor). Equal per-rank batch sizes are required (the
default samplers pad to that).
"""
from typing import Tuple

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS


def _dist_info() -> Tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_features(image_feats: torch.Tensor, text_feats: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, int]:
    """All-gather both feature matrices, keeping the local chunk differentiable.

    Args:
        image_feats: (B, D) local image features.
        text_feats: (B, D) local text features.

    Returns:
        ``(all_image, all_text, offset)``: (W·B, D) tensors in rank order and the row offset ``rank · B`` of the
        local chunk. Without an initialised process group (or with one process) the inputs and 0.
    """
    rank, world = _dist_info()
    if world == 1:
        return image_feats, text_feats, 0
    sizes = [torch.zeros(1, dtype=torch.long, device=image_feats.device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([image_feats.shape[0]], device=image_feats.device))
    if len({int(s) for s in sizes}) != 1:
        raise RuntimeError(f'CLIPContrastiveLoss needs equal per-rank batch sizes, got {[int(s) for s in sizes]} '
                           '(use a sampler that pads, e.g. DefaultSampler, or drop_last)')
    out = []
    for local in (image_feats, text_feats):
        chunks = [torch.empty_like(local) for _ in range(world)]
        dist.all_gather(chunks, local.detach().contiguous())
        chunks[rank] = local
        out.append(torch.cat(chunks))
    return out[0], out[1], rank * image_feats.shape[0]


def clip_contrastive_loss(image_feats: torch.Tensor, text_feats: torch.Tensor, logit_scale,
                          gather: bool = True) -> torch.Tensor:
    """Symmetric InfoNCE of paired image and text features.

    Args:
        image_feats: (B, D) image embeddings (normalised by the caller).
        text_feats: (B, D) text embeddings; row i matches image row i.
        logit_scale: the (already exponentiated) scale s, a float or a scalar tensor (may carry gradient).
        gather: use the global batch of all ranks when a process group is initialised.

    Returns:
        Scalar loss (the global-batch loss, identical on every rank).
    """
    if image_feats.shape != text_feats.shape or image_feats.ndim != 2:
        raise ValueError(f'image and text features must both be (B, D); got {tuple(image_feats.shape)} and '
                         f'{tuple(text_feats.shape)}')
    offset, local = 0, image_feats.shape[0]
    if gather:
        image_all, text_all, offset = gather_features(image_feats, text_feats)
    else:
        image_all, text_all = image_feats, text_feats
    if torch.is_tensor(logit_scale) and logit_scale.requires_grad and image_all.shape[0] != local:
        # the scale multiplies every entry, but each rank must credit it only for its own rows, or the
        # per-rank gradients of the scale would sum to world_size times the full-batch gradient
        own = torch.zeros(image_all.shape[0], 1, dtype=torch.bool, device=image_all.device)
        own[offset:offset + local] = True
        logit_scale = torch.where(own, logit_scale.reshape(1, 1), logit_scale.detach().reshape(1, 1))
    logits_per_image = logit_scale * (image_all @ text_all.T)
    labels = torch.arange(image_all.shape[0], device=image_all.device)
    return (F.cross_entropy(logits_per_image, labels) + F.cross_entropy(logits_per_image.T, labels)) / 2


@MODELS.register_module()
class CLIPContrastiveLoss(nn.Module):
    """CLIP's symmetric contrastive loss with the model's logit scale (see module docstring).

    Args:
        gather: under DDP, contrast against the global batch (all ranks); ``False`` keeps it per rank.
        loss_weight: multiplier of the loss.
    """

    def __init__(self, gather: bool = True, loss_weight: float = 1.0):
        super().__init__()
        self.gather = gather
        self.loss_weight = float(loss_weight)

    def forward(self, image_feats: torch.Tensor, text_feats: torch.Tensor, logit_scale) -> torch.Tensor:
        """Args:
            image_feats: (B, D) normalised image embeddings.
            text_feats: (B, D) normalised text embeddings of the matching captions.
            logit_scale: exponentiated logit scale (float or scalar tensor).

        Returns:
            Scalar loss.
        """
        return self.loss_weight * clip_contrastive_loss(image_feats, text_feats, logit_scale, self.gather)
