"""NegLabel score: softmax mass of the ID labels against mined negative labels.

Paper: X. Jiang, F. Liu, Z. Fang, H. Chen, T. Liu, F. Zheng, B. Han, "Negative Label Guided OOD Detection with
Pretrained Vision-Language Models", ICLR 2024, arXiv:2403.20078.

Formula, with ``s_k = cos(h, e_k)`` for the K ID prompts and ``s~_j = cos(h, e~_j)`` for the M negative prompts::

    S(x) = sum_k exp(s_k / tau) / ( sum_k exp(s_k / tau) + sum_j exp(s~_j / tau) )
         = sigmoid( lse_k(s_k / tau) - lse_j(s~_j / tau) )

i.e. the softmax over the concatenation ``[ID ; negatives]`` summed over the ID part. The reference divides the
x100 logits by ``t`` (``t = 1``), which is ``tau = t / 100 = 0.01`` on cosines. Evaluating the right-hand form
with log-sum-exps keeps it finite for logits around 100 and accurate for very small scores; it is computed in
float32 or better. For strongly ID images the negative mass falls below float32 resolution and the score is
exactly 1.0 (ties that the metrics handle).

With ``tau = 1`` the inputs are taken as logits already divided by the temperature (the head scales its text
embeddings by ``1 / tau`` once, so no pass over the (B, M) matrix is spent on the division).

Grouping (``ngroup > 1``): the negative columns are reordered by a permutation (see :func:`group_permutation`),
split into ``ngroup`` groups of ``m = floor(M / ngroup)`` columns, the score is computed per group against all
ID labels, and the group scores are averaged. Decisions relative to the reference implementation
(``XueJiang16/NegLabel`` ``clip_ood.py``; docs/reference_deviations.md):

* NL-1 (fixed): ``ngroup <= 1`` uses the formula above (the reference returns the raw sum of ID logits).
* NL-2 (fixed): ``group_fuse_num = n`` keeps the first ``n`` groups (the reference keeps ``n - 1``).
* NL-3 (reproduced, default): the ``M mod ngroup`` tail columns are dropped before the permutation.
* NL-4 (fixed): the permutation comes from a seeded CPU ``torch.Generator`` and is fixed for all batches
  (the reference draws a CUDA ``randperm`` with seed 0 at every call, so group membership differs; a small
  metric effect is expected).
* NL-14 (fixed): ``ngroup > M`` raises a ``ValueError``.

Duplicated ID names (ImageNet's ``missile`` and ``sunglasses``) are columns like any other and count twice.

Sign: **higher = more in-distribution**.
"""
from typing import Optional

import torch
from torch import Tensor

from .mcm import _check_tau, _upcast

__all__ = ['group_permutation', 'neglabel_score', 'grouped_neglabel_score_']


def group_permutation(num_neg: int,
                      ngroup: int,
                      shuffle: bool = True,
                      seed: int = 0,
                      drop_tail_before_shuffle: bool = True) -> Tensor:
    """Column indices of the negative labels to keep, in grouped order.

    Group ``g`` of :func:`neglabel_score` consists of the returned indices ``[g * m, (g + 1) * m)`` with
    ``m = num_neg // ngroup``.

    Args:
        num_neg (int): Number of negative labels ``M``.
        ngroup (int): Number of groups. ``ngroup <= 1`` returns ``arange(M)`` (no grouping, nothing dropped).
        shuffle (bool): Draw a random permutation. If False the kept columns stay in their original order.
            Defaults to True.
        seed (int): Seed of the CPU ``torch.Generator`` used for the permutation. Defaults to 0.
        drop_tail_before_shuffle (bool): If True (reference behaviour, NL-3), the last ``M mod ngroup``
            columns are dropped first and the remaining ``ngroup * m`` are permuted. If False, all ``M``
            columns are permuted and the first ``ngroup * m`` of the permutation are kept. Defaults to True.

    Returns:
        Tensor: 1-D ``torch.long`` tensor of length ``ngroup * (M // ngroup)`` (``M`` when ``ngroup <= 1``).

    Raises:
        ValueError: If ``num_neg < 1`` or ``ngroup > num_neg``.
    """
    num_neg = int(num_neg)
    ngroup = int(ngroup)
    if num_neg < 1:
        raise ValueError(f'num_neg must be >= 1, got {num_neg}.')
    if ngroup <= 1:
        return torch.arange(num_neg, dtype=torch.long)
    if ngroup > num_neg:
        raise ValueError(f'ngroup ({ngroup}) is larger than the number of negative labels M ({num_neg}): '
                         'every group would be empty. Use ngroup <= M.')
    keep = ngroup * (num_neg // ngroup)
    if not shuffle:
        return torch.arange(keep, dtype=torch.long)
    generator = torch.Generator(device='cpu')
    generator.manual_seed(int(seed))
    if drop_tail_before_shuffle:
        return torch.randperm(keep, generator=generator, dtype=torch.long)
    return torch.randperm(num_neg, generator=generator, dtype=torch.long)[:keep].clone()


def neglabel_score(pos_cos: Tensor,
                   neg_cos: Tensor,
                   tau: float = 0.01,
                   ngroup: int = 1,
                   perm: Optional[Tensor] = None,
                   group_fuse_num: Optional[int] = None) -> Tensor:
    """Compute the (grouped) NegLabel score.

    Args:
        pos_cos (Tensor): Cosines between L2-normalised image embeddings and the K ID prompt embeddings,
            shape ``(B, K)``.
        neg_cos (Tensor): Cosines with the M negative prompt embeddings, shape ``(B, M)``.
        tau (float): Temperature on cosines (``t / 100`` in the reference's notation). Defaults to 0.01.
        ngroup (int): Number of negative groups. ``<= 1`` scores against all M negatives at once.
            Defaults to 1.
        perm (Tensor, optional): Column indices into ``neg_cos`` in grouped order, as returned by
            :func:`group_permutation`; its length must be a multiple of ``ngroup`` (``m = len(perm) //
            ngroup`` columns per group). Only used when ``ngroup > 1``. Defaults to
            ``group_permutation(M, ngroup, shuffle=False)``: the first ``ngroup * (M // ngroup)`` columns in
            order (the tail is dropped).
        group_fuse_num (int, optional): Average only the first ``n`` group scores (``1 <= n <= ngroup``).
            Defaults to None (all groups).

    Returns:
        Tensor: Scores in ``[0, 1]`` of shape ``(B,)``, float32 (float64 if an input is float64).
        Higher = more ID.

    Raises:
        ValueError: On mismatched or malformed inputs, ``ngroup > M``, an invalid ``perm`` or an out-of-range
            ``group_fuse_num``.
    """
    if not isinstance(pos_cos, Tensor) or not isinstance(neg_cos, Tensor):
        raise ValueError('pos_cos and neg_cos must be torch.Tensors.')
    if pos_cos.ndim != 2 or neg_cos.ndim != 2:
        raise ValueError(f'pos_cos and neg_cos must be 2-D, got shapes {tuple(pos_cos.shape)} and '
                         f'{tuple(neg_cos.shape)}.')
    if not (pos_cos.is_floating_point() and neg_cos.is_floating_point()):
        raise ValueError(f'pos_cos and neg_cos must be floating tensors, got {pos_cos.dtype} and {neg_cos.dtype}.')
    if pos_cos.shape[0] != neg_cos.shape[0]:
        raise ValueError(f'Batch sizes differ: pos_cos has {pos_cos.shape[0]} rows, neg_cos has '
                         f'{neg_cos.shape[0]}.')
    num_pos, num_neg = pos_cos.shape[1], neg_cos.shape[1]
    if num_pos < 1:
        raise ValueError('pos_cos must contain at least one ID label (K >= 1).')
    if num_neg < 1:
        raise ValueError('neg_cos must contain at least one negative label (M >= 1).')
    tau = _check_tau(tau)
    ngroup = int(ngroup)
    num_groups = max(ngroup, 1)
    if ngroup > num_neg:
        raise ValueError(f'ngroup ({ngroup}) is larger than the number of negative labels M ({num_neg}): '
                         'every group would be empty. Use ngroup <= M.')
    if group_fuse_num is not None:
        group_fuse_num = int(group_fuse_num)
        if not 1 <= group_fuse_num <= num_groups:
            raise ValueError(f'group_fuse_num must be in [1, {num_groups}] (number of groups), '
                             f'got {group_fuse_num}.')

    dtype = torch.promote_types(_upcast(pos_cos).dtype, _upcast(neg_cos).dtype)
    pos = pos_cos.to(dtype)
    pos = pos if tau == 1.0 else pos / tau
    num_used = group_fuse_num if group_fuse_num is not None else num_groups
    if ngroup <= 1:
        used, per_group = neg_cos, num_neg
    elif perm is None:  # the columns in order, tail dropped
        per_group = num_neg // ngroup
        used = neg_cos[:, :num_used * per_group]
    else:
        if not isinstance(perm, Tensor) or perm.ndim != 1 or perm.dtype not in (torch.int64, torch.int32):
            raise ValueError('perm must be a 1-D integer (long) tensor of column indices.')
        if perm.numel() < ngroup or perm.numel() % ngroup != 0:
            raise ValueError(f'len(perm) ({perm.numel()}) must be a positive multiple of ngroup ({ngroup}).')
        if int(perm.min()) < 0 or int(perm.max()) >= num_neg:
            raise ValueError(f'perm contains indices outside [0, {num_neg}).')
        per_group = perm.numel() // ngroup
        # Only the columns of the groups that are averaged are gathered.
        used = neg_cos.index_select(1, perm[:num_used * per_group].to(device=neg_cos.device, dtype=torch.long))
    # a scratch copy of the used columns, divided by tau, which the in-place core may overwrite
    scratch = used.to(dtype) / tau if tau != 1.0 else used.to(dtype, copy=True)
    return grouped_neglabel_score_(pos, scratch.reshape(neg_cos.shape[0], num_used, per_group))


def grouped_neglabel_score_(pos_logits: Tensor, neg_logits: Tensor) -> Tensor:
    """NegLabel's score from logits, **in place**: ``neg_logits`` is used as scratch memory and overwritten.

    ``S = mean_g sigmoid(lse_k(pos_logits) - lse_j(neg_logits[:, g]))`` -- :func:`neglabel_score` without the
    checks, the temperature and the gather, for callers that own the negative logits (the head writes them into
    a reusable buffer with one matrix product, so no other pass touches the (B, M) matrix but the log-sum-exp's).

    Args:
        pos_logits (Tensor): ``cos / tau`` of the K ID prompts, ``(B, K)``, float32 or float64 (not modified).
        neg_logits (Tensor): ``cos / tau`` of the negatives in grouped order, ``(B, G, m)`` (overwritten).

    Returns:
        Tensor: ``(B,)`` scores, higher = more ID.
    """
    lse_pos = torch.logsumexp(pos_logits, dim=1)  # (B,)
    peak = neg_logits.amax(dim=2, keepdim=True)
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    lse_neg = neg_logits.sub_(peak).exp_().sum(dim=2).log_().add_(peak.squeeze(2))  # (B, G)
    return torch.sigmoid(lse_pos[:, None] - lse_neg).mean(dim=1)
