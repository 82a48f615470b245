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
from typing import List, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS


def _dist_info() -> Tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_features(*tensors: torch.Tensor) -> Tuple[List[torch.Tensor], int]:
    """All-gather tensors over the ranks, keeping each local chunk differentiable.

    Every rank sends its tensors; in the result, rank ``rank``'s slice is the **original** local tensor (so
    gradient flows through the local chunk only) and the other slices are detached copies. Integer tensors
    (e.g. class labels) gather like the others (they carry no gradient).

    Args:
        *tensors: local tensors, each of shape ``(B, ...)`` with the same ``B``; on every rank the same number
            of tensors with the same trailing shapes and dtypes, and the same ``B``.

    Returns:
        ``(gathered, offset)``: the list of ``(W·B, ...)`` tensors in rank order (in the order of ``tensors``)
        and the row offset ``rank · B`` of the local chunk. Without an initialised process group (or with one
        process) the inputs themselves and 0.

    Raises:
        ValueError: if no tensor is given, a tensor is 0-d, or the local tensors differ in ``B``.
        RuntimeError: if the ranks have different batch sizes ``B``.
    """
    if not tensors:
        raise ValueError('gather_features needs at least one tensor')
    if any(t.ndim == 0 for t in tensors) or len({t.shape[0] for t in tensors}) != 1:
        raise ValueError(f'gather_features needs tensors of shape (B, ...) with one B, got '
                         f'{[tuple(t.shape) for t in tensors]}')
    rank, world = _dist_info()
    if world == 1:
        return list(tensors), 0
    batch = tensors[0].shape[0]
    device = tensors[0].device
    sizes = [torch.zeros(1, dtype=torch.long, device=device) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([batch], device=device))
    if len({int(s) for s in sizes}) != 1:
        raise RuntimeError(f'gather_features needs equal per-rank batch sizes, got {[int(s) for s in sizes]} '
                           '(use a sampler that pads, e.g. DefaultSampler, or drop_last)')
    out = []
    for local in tensors:
        chunks = [torch.empty_like(local, memory_format=torch.contiguous_format) for _ in range(world)]
        dist.all_gather(chunks, local.detach().contiguous())
        chunks[rank] = local
        out.append(torch.cat(chunks))
    return out, rank * batch


def credit_local_rows(logit_scale, num_rows: int, offset: int, local: int):
    """Make a learnable logit scale credit only this rank's rows of a gathered ``(num_rows, ...)`` logit matrix.

    Every rank builds the global logit matrix, so a learnable scale would otherwise collect the gradient of all
    rows on every rank, and the per-rank gradients would sum to ``world_size`` times the full-batch gradient.
    Returns a ``(num_rows, 1)`` column equal to the scale everywhere, differentiable only in rows
    ``offset : offset + local``; a float, a scale without gradient, or an ungathered matrix
    (``num_rows == local``) is returned unchanged.
    """
    if not (torch.is_tensor(logit_scale) and logit_scale.requires_grad and num_rows != local):
        return logit_scale
    own = torch.zeros(num_rows, 1, dtype=torch.bool, device=logit_scale.device)
    own[offset:offset + local] = True
    return torch.where(own, logit_scale.reshape(1, 1), logit_scale.detach().reshape(1, 1))


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
        (image_all, text_all), offset = gather_features(image_feats, text_feats)
    else:
        image_all, text_all = image_feats, text_feats
    # the scale multiplies every entry; each rank credits it only for its own rows
    logit_scale = credit_local_rows(logit_scale, image_all.shape[0], offset, local)
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
