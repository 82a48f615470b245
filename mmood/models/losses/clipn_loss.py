"""CLIPN's training loss: image-text binary-opposite loss (ITBO) + text semantic-opposite loss (TSO).

Paper: H. Wang, Y. Li, H. Yao, X. Li, "CLIPN for Zero-Shot OOD Detection: Teaching CLIP to Say No", ICCV 2023,
arXiv:2308.12213.

For a (global) batch of N matching triples with unit embeddings ``f_i`` (image), ``g_i`` ("yes" text tower) and
``h_i`` ("no" text tower) of the same caption, and the logit scale ``s``::

    a_ij = s f_i . g_j,    b_ij = s f_i . h_j,    p_ij = sigmoid(a_ij - b_ij)   ("yes" prob. of image i, caption j)
    L_yes = -1/N          sum_i       log p_ii
    L_no  = -1/(N^2 - N)  sum_{i != j} log(1 - p_ij)
    L_tso =  1/N          sum_i  [2 - sqrt(2 - 2 g_i . h_i + 1e-4)]        ('l2', the default)
          =  1/N          sum_i  [g_i . h_i + 1]                          ('cosine', unused by the reference)
    L     =  0.5 (L_yes + L_no + L_tso)

Minimising L teaches the no tower to say "no" to matching pairs' opposites: ``h_i`` is pushed away from
``g_i`` (TSO), ``p_ii`` towards 1 and ``p_ij`` (i != j) towards 0. The L2-mode TSO lies in about
``[-2.5e-5, 1.99]`` (negative when ``h = -g``); with ``h = g`` (an untrained no tower)
``L = 0.5 (2 ln 2 + 1.99) = 1.688147180560`` for any f and g.

Implementation choices (and their relation to the reference, ``xmed-lab/CLIPN``, docs/reference_deviations.md CN-*):

* ``log p`` and ``log(1 - p)`` are computed as ``logsigmoid(d)`` and ``logsigmoid(-d)`` with
  ``d_ij = s f_i . (g_j - h_j)``, one matrix product instead of two (no cancellation between two
  ``s``-sized logits); the reference takes the log of softmax outputs, identical unless ``p`` rounds to 0 or 1
  (the loss vector of tests/test_models/test_clipn_loss.py at ``s = 100``: the reference's ``L_yes`` is exactly 0, here
  ``2.4e-47``).
* Everything runs in float32 or better, with autocast disabled (fp16 inputs are upcast; float64 stays float64).
* The TSO radicand is floored at ``1e-12`` so that features that are unit only up to rounding (``g . h``
  slightly above ``1 + 5e-5``, e.g. from fp16) cannot produce NaN; unit inputs never reach the floor.
* N = 1 (no pair i != j): ``L_no = 0``.
* ``mask_same_class=True`` (an mmood option, off by default as in the reference): pairs ``i != j`` whose class
  labels are equal are left out of ``L_no``, which averages over the remaining pairs; if none remain
  (a batch of one class) ``L_no = 0`` -- a zero still attached to the graph, so backward works and gives the
  no-tower no gradient from that term.
* Distribution (CN-1: the reference crashes with one process; here any world size works, also 1): with
  ``gather=True`` and an initialised process group, every rank all-gathers f, g, h (and the labels) with
  :func:`~mmood.models.losses.clip_loss.gather_features` and builds the global N x N matrices (N = world size
  times the per-rank batch); only the local chunk carries gradient. Every rank holds the same loss value, the
  per-rank gradients of the local features are the rows of the global-batch gradient, and per-rank gradients
  of shared parameters sum to the global-batch gradient; DDP's averaging therefore applies the full-batch
  gradient divided by the world size (as the reference does). A learnable logit scale is credited per rank
  only for its own rows (CLIPN freezes it). Equal per-rank batch sizes are required.

The inputs must already be L2-normalised (the caller normalises). Gradients reach every input that requires
grad; in CLIPN only ``no_feats`` does (image and yes towers and ``s`` are frozen).
"""
from contextlib import nullcontext
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

from .clip_loss import credit_local_rows, gather_features

__all__ = ['clipn_loss', 'CLIPNLoss']

TSO_MODES = ('l2', 'cosine')
_TSO_EPS = 1e-4  # the reference's constant inside the square root
_RADICAND_FLOOR = 1e-12


def _check_tso_mode(tso_mode: str) -> str:
    mode = str(tso_mode).lower()
    if mode not in TSO_MODES:
        raise ValueError(f"tso_mode must be one of {TSO_MODES}, got {tso_mode!r}")
    return mode


def _no_autocast(device: torch.device):
    try:
        return torch.autocast(device_type=device.type, enabled=False)
    except RuntimeError:  # a device type without autocast support
        return nullcontext()


def clipn_loss(image_feats: torch.Tensor,
               yes_feats: torch.Tensor,
               no_feats: torch.Tensor,
               logit_scale,
               labels: Optional[torch.Tensor] = None,
               mask_same_class: bool = False,
               tso_mode: str = 'l2',
               gather: bool = True) -> Dict[str, torch.Tensor]:
    """CLIPN's ITBO + TSO loss and its parts (formulas in the module docstring).

    Args:
        image_feats: ``(B, D)`` unit image embeddings ``f``.
        yes_feats: ``(B, D)`` unit "yes"-tower embeddings ``g`` of the captions; row i matches image i.
        no_feats: ``(B, D)`` unit "no"-tower embeddings ``h`` of the same captions.
        logit_scale: the (already exponentiated) scale ``s``: a float or a scalar tensor (may carry gradient).
        labels: ``(B,)`` class labels of the samples; required by ``mask_same_class``, ignored otherwise.
        mask_same_class: leave pairs ``i != j`` with equal labels out of ``L_no``.
        tso_mode: ``'l2'`` (default, the reference's) or ``'cosine'``.
        gather: use the global batch of all ranks when a process group is initialised.

    Returns:
        dict: scalar tensors ``loss_yes`` (L_yes), ``loss_no`` (L_no), ``loss_tso`` (L_tso) and
        ``loss = 0.5 (L_yes + L_no + L_tso)``, all differentiable, float32 (float64 for float64 inputs) and
        identical on every rank.

    Raises:
        ValueError: on wrong shapes or dtypes, an unknown ``tso_mode``, a non-scalar tensor scale, or
            ``mask_same_class=True`` without ``labels``.
    """
    mode = _check_tso_mode(tso_mode)
    feats = dict(image_feats=image_feats, yes_feats=yes_feats, no_feats=no_feats)
    for name, value in feats.items():
        if not torch.is_tensor(value) or value.ndim != 2 or not value.is_floating_point():
            raise ValueError(f'{name} must be a floating (B, D) tensor, got '
                             f'{tuple(value.shape) if torch.is_tensor(value) else type(value).__name__}')
    shapes = {tuple(v.shape) for v in feats.values()}
    if len(shapes) != 1 or image_feats.shape[0] < 1:
        raise ValueError(f'image_feats, yes_feats and no_feats must share one shape (B, D) with B >= 1, got '
                         f'{[tuple(v.shape) for v in feats.values()]}')
    local = image_feats.shape[0]
    if mask_same_class and labels is None:
        raise ValueError('mask_same_class=True needs the class labels (labels=None was given)')
    if mask_same_class and (not torch.is_tensor(labels) or tuple(labels.shape) != (local, )):
        raise ValueError(f'labels must be a ({local},) tensor, got '
                         f'{tuple(labels.shape) if torch.is_tensor(labels) else type(labels).__name__}')
    if torch.is_tensor(logit_scale) and logit_scale.numel() != 1:
        raise ValueError(f'logit_scale must be a float or a scalar tensor, got shape {tuple(logit_scale.shape)}')
    dtype = torch.float64 if any(v.dtype == torch.float64 for v in feats.values()) else torch.float32

    tensors = [image_feats, yes_feats, no_feats] + ([labels] if mask_same_class else [])
    gathered, offset = gather_features(*tensors) if gather else (tensors, 0)
    with _no_autocast(image_feats.device):
        f, g, h = (t.to(dtype) for t in gathered[:3])
        n = f.shape[0]
        scale = logit_scale.reshape(()).to(dtype) if torch.is_tensor(logit_scale) else float(logit_scale)
        scale = credit_local_rows(scale, n, offset, local)  # a learnable scale: credit this rank's rows only
        d = scale * (f @ (g - h).T)  # d_ij = a_ij - b_ij

        loss_yes = -F.logsigmoid(d.diagonal()).mean()

        valid = ~torch.eye(n, dtype=torch.bool, device=d.device)
        if mask_same_class:
            label_all = gathered[3]
            valid &= label_all[:, None] != label_all[None, :]
        count = valid.sum().clamp(min=1).to(dtype)  # no valid pair: the masked sum is 0, hence L_no = 0
        loss_no = -torch.where(valid, F.logsigmoid(-d), torch.zeros((), dtype=dtype, device=d.device)).sum() / count

        cos_gh = (g * h).sum(dim=1)
        if mode == 'l2':
            loss_tso = (2 - (2 - 2 * cos_gh + _TSO_EPS).clamp(min=_RADICAND_FLOOR).sqrt()).mean()
        else:
            loss_tso = (cos_gh + 1).mean()

        loss = 0.5 * (loss_yes + loss_no + loss_tso)
    return dict(loss_yes=loss_yes, loss_no=loss_no, loss_tso=loss_tso, loss=loss)


@MODELS.register_module()
class CLIPNLoss(nn.Module):
    """CLIPN's ITBO + TSO loss ``0.5 (L_yes + L_no + L_tso)`` (see the module docstring).

    Args:
        mask_same_class: leave pairs ``i != j`` of the same class out of ``L_no`` (needs ``labels`` in
            :meth:`forward`). Defaults to False (the reference).
        tso_mode: ``'l2'`` (default, the reference's) or ``'cosine'`` (``g . h + 1``).
        gather: under DDP, use the global batch (all ranks); ``False`` keeps it per rank.
        loss_weight: multiplier of the total loss.
    """

    def __init__(self, mask_same_class: bool = False, tso_mode: str = 'l2', gather: bool = True,
                 loss_weight: float = 1.0):
        super().__init__()
        self.mask_same_class = bool(mask_same_class)
        self.tso_mode = _check_tso_mode(tso_mode)
        self.gather = gather
        self.loss_weight = float(loss_weight)

    def forward(self, image_feats: torch.Tensor, yes_feats: torch.Tensor, no_feats: torch.Tensor, logit_scale,
                labels: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Args:
            image_feats: ``(B, D)`` unit image embeddings.
            yes_feats: ``(B, D)`` unit "yes"-tower caption embeddings.
            no_feats: ``(B, D)`` unit "no"-tower caption embeddings.
            logit_scale: exponentiated logit scale (float or scalar tensor).
            labels: ``(B,)`` class labels (only with ``mask_same_class``).

        Returns:
            dict: ``loss`` -- the differentiable total times ``loss_weight``; ``itbo_yes``, ``itbo_no``, ``tso``
            -- the unweighted parts L_yes, L_no, L_tso, **detached**, for logging. Only ``loss`` contains the
            substring ``'loss'``, so mmengine's ``parse_losses`` (which sums every such key) optimises the total
            once.
        """
        parts = clipn_loss(image_feats, yes_feats, no_feats, logit_scale, labels=labels,
                           mask_same_class=self.mask_same_class, tso_mode=self.tso_mode, gather=self.gather)
        return dict(loss=self.loss_weight * parts['loss'], itbo_yes=parts['loss_yes'].detach(),
                    itbo_no=parts['loss_no'].detach(), tso=parts['loss_tso'].detach())
