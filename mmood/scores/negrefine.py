"""NegRefine's multi-matching-aware score: ID credit for images explained by an ID label *and* a negative label.

Paper: A. Ansari et al., "NegRefine: Refining Negative Label-Based Zero-Shot OOD Detection", ICCV 2025,
arXiv:2507.09795 (code: ``ah-ansari/NegRefine``, ``src/clip_ood.py`` ``_multi_matching_score``).

For a unit image embedding ``h``, take the ``P`` ID labels ``p`` and the ``N`` negative labels ``n`` with the
largest logits (:func:`top_pairs`), write the composite texts ``"{p} and {n}"`` (:func:`compose_texts`), embed
them (``e_{p,n}``) and compare each composite with *its own* negative's logit ``v_n = 100 cos(h, t_n)``::

    c_{p,n} = 100 cos(h, e_{p,n})
    S_mm(x) = max_{p,n} exp(c_{p,n}) / (exp(c_{p,n}) + exp(v_n)) = max_{p,n} sigmoid(c_{p,n} - v_n)

An image that matches "tench and gooey landscape" better than "gooey landscape" alone is an ID image with some
extra content, not an OOD one. NegRefine's final score is ``S = S_NegLabel + 2 S_mm`` (``NegRefineHead`` adds them).

Decisions relative to the reference (``ah-ansari/NegRefine`` ``src/clip_ood.py``; docs/reference_deviations.md):

* NR-2 (fixed): the reference evaluates ``exp(c) / (exp(c) + exp(v))``, which overflows in float32 for logits
  above ~88; :func:`multimatch_score` uses the equal, finite ``sigmoid(c - v)``.
* NR-3: each composite ``(p, n)`` is paired with the logit of the negative ``n`` it contains (``v`` indexed by the
  negative, broadcast over ``p``), never with a logit indexed by the ID label.
* NR-8: ranks come from :func:`torch.topk`, sorted; on tied logits the lower index is taken first (rows with
  ties are re-ranked by a stable sort, so the rule does not depend on the device's ``topk`` kernel).
* NR-1 (fixed): everything is batched over images; a row's score depends on that row only.

Sign: **higher = more in-distribution** (``S_mm`` in ``(0, 1)``).
"""
from typing import List, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['compose_texts', 'multimatch_score', 'top_pairs']


def compose_texts(pos_names: Sequence[str], neg_names: Sequence[str]) -> List[str]:
    """The composite texts ``"{p} and {n}"`` in p-major order: for each ID name ``p``, every negative ``n``.

    Args:
        pos_names: ``P`` ID label names (the image's top ID labels, best first).
        neg_names: ``N`` negative labels (raw words or conjugated phrases, no template: NR-7).

    Returns:
        ``P * N`` strings; entry ``i * N + j`` is ``f'{pos_names[i]} and {neg_names[j]}'``.
    """
    return [f'{p} and {n}' for p in pos_names for n in neg_names]


def multimatch_score(comp_logits: Tensor, neg_top_logits: Tensor) -> Tensor:
    """``S_mm = max_{p,n} sigmoid(c[b, p, n] - v[b, n])`` (module docstring).

    Args:
        comp_logits (Tensor): ``(B, P, N)`` logits ``100 cos(h, e_{p,n})`` of the composites, p-major as
            :func:`compose_texts` orders them (``comp_logits[b].reshape(-1)`` follows the text order).
        neg_top_logits (Tensor): ``(B, N)`` logits ``v[b, n]`` of the negatives the composites contain, in the
            same order as the last axis of ``comp_logits``.

    Returns:
        Tensor: ``(B,)`` scores in ``(0, 1)``, float32 (float64 if an input is float64). Higher = more ID.

    Raises:
        ValueError: on shapes that do not pair up (``P`` or ``N`` of zero included).
    """
    if comp_logits.ndim != 3 or neg_top_logits.ndim != 2:
        raise ValueError(f'comp_logits must be (B, P, N) and neg_top_logits (B, N); got shapes '
                         f'{tuple(comp_logits.shape)} and {tuple(neg_top_logits.shape)}')
    batch, num_pos, num_neg = comp_logits.shape
    if tuple(neg_top_logits.shape) != (batch, num_neg):
        raise ValueError(f'neg_top_logits must have shape (B, N) = {(batch, num_neg)} to pair with comp_logits '
                         f'{tuple(comp_logits.shape)}; got {tuple(neg_top_logits.shape)}')
    if num_pos < 1 or num_neg < 1:
        raise ValueError(f'At least one ID label and one negative are needed; got P={num_pos}, N={num_neg}')
    dtype = torch.promote_types(torch.promote_types(comp_logits.dtype, neg_top_logits.dtype), torch.float32)
    # the negative's own logit, broadcast over the ID labels (NR-3)
    diff = comp_logits.to(dtype) - neg_top_logits.to(dtype)[:, None, :]
    return torch.sigmoid(diff).reshape(batch, -1).amax(dim=1)


def _top_indices(logits: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """``torch.topk(logits, k, dim=1)`` (sorted), with ties broken towards the lower index (NR-8).

    ``topk`` does not specify which of equal values comes first, nor which is kept when equal values straddle the
    k-th place. Rows with such ties (rare with real logits) are re-ranked by a stable descending sort, which keeps
    the lower index first; the other rows keep ``topk``'s answer.
    """
    width = logits.shape[1]
    values, indices = torch.topk(logits, min(k + 1, width), dim=1, largest=True, sorted=True)
    tied = (values[:, 1:] == values[:, :-1]).any(dim=1)  # among the top k, or between the k-th and the next
    values, indices = values[:, :k], indices[:, :k]
    if bool(tied.any()):
        rows = tied.nonzero().squeeze(1)
        order = torch.sort(logits[rows], dim=1, descending=True, stable=True).indices[:, :k]
        indices = indices.index_copy(0, rows, order)
        values = torch.gather(logits, 1, indices)
    return values, indices


def top_pairs(pos_logits: Tensor, neg_logits: Tensor, k_pos: int, k_neg: int) -> Tuple[Tensor, Tensor, Tensor]:
    """The image's top ID labels and top negatives, best first.

    Args:
        pos_logits (Tensor): ``(B, K)`` ID logits (``100 cos``).
        neg_logits (Tensor): ``(B, M)`` logits of every negative label, in the negatives' own order.
        k_pos (int): ``P``, at most ``K``.
        k_neg (int): ``N``, at most ``M``.

    Returns:
        ``(pos_idx (B, P), neg_idx (B, N), neg_top_logits (B, N))``: column indices in descending logit order
        (as :func:`torch.topk` with ``sorted=True``; among equal logits the lower index comes first, NR-8) and the
        negatives' logits at ``neg_idx``.

    Raises:
        ValueError: on a ``k`` below 1 or above the number of columns, or on mismatched batch sizes.
    """
    if pos_logits.ndim != 2 or neg_logits.ndim != 2 or pos_logits.shape[0] != neg_logits.shape[0]:
        raise ValueError(f'pos_logits (B, K) and neg_logits (B, M) must be 2-D with one batch size; got '
                         f'{tuple(pos_logits.shape)} and {tuple(neg_logits.shape)}')
    for name, k, width in (('k_pos', k_pos, pos_logits.shape[1]), ('k_neg', k_neg, neg_logits.shape[1])):
        if not 1 <= int(k) <= width:
            raise ValueError(f'{name} must be in [1, {width}] (the number of labels), got {k}')
    _, pos_idx = _top_indices(pos_logits, int(k_pos))
    neg_top, neg_idx = _top_indices(neg_logits, int(k_neg))
    return pos_idx, neg_idx, neg_top
