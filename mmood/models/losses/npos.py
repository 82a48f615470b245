"""NPOS: non-parametric outlier synthesis from per-class feature queues, and its two training losses.

Paper: L. Tao, X. Du, X. Zhu, Y. Li, "Non-Parametric Outlier Synthesis", ICLR 2023, arXiv:2303.02966.
Reference: ``deeplearning-wisc/npos`` ``train_npos.py`` and ``KNN.py``; docs/npos.md; deviations NP-2, NP-3, NP-7,
NP-12, NP-13 (docs/reference_deviations.md).

Notation: ``Q_c`` ∈ R^{N×d} the queue of raw (un-normalised) features of class ``c``; ``û = u / ‖u‖``;
``δ_K(u | Q)`` the K-th smallest squared L2 distance between ``û`` and the normalised rows of ``Q``, computed on
unit vectors as ``2 − 2·(K-th largest cosine)`` (a row of ``Q`` is its own first neighbour, at distance 0)::

    boundary   B_c  = the `select` rows q of Q_c with the largest δ_K(q | Q_c)          (descending δ order)
    picks      b_1..b_P drawn uniformly without replacement from B_c
    candidates v_{p,l} = b_p + σ·e_l,   e_l ~ N(0, I),  l = 1..L   (ONE draw E per call, shared by all classes
                                                                   and picks: NP-13; pick-major order)
    rejection  per pick, keep the m candidates with the largest δ_K(v | Q_c)     → C·P·m raw outliers

    L_id  = CE(z, y),  z_i = s_i / ((‖s_i‖₂ + 1e-7)·T)                         (LogitNorm, T = 8)
    L_reg = mean over B + M of BCEWithLogits: φ(f_i) → 1, φ(v_j) → 0          (one mean over B + M: NP-13)
    L     = L_id + λ·L_reg,  λ = 0.1

Deviations from the reference (``deeplearning-wisc/npos``), each a documented fix:

* the reference's rejection reshapes the P·L distances row-major to [L, P] and so keeps a permuted selection for
  P ≥ 2, and crashes for P = 1 or m = 1 (NP-2); ``rejection='fixed'`` (default) applies the intended rule,
  ``rejection='reference'`` reproduces the permuted one (P, m ≥ 2 only);
* synthesis is gated per class on ``count_c == N`` instead of "all queues full" (NP-3);
* queues are ring buffers held as module buffers with the synthesis step counter, so a resumed run draws what an
  uninterrupted run draws (NP-12);
* k-NN in plain torch (``bmm`` + ``topk``, no faiss), fp32 (float64 for float64 inputs), unfilled rows masked.
"""
from typing import Iterator, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ...utils.errors import ConfigError

__all__ = [
    'kth_neighbour_sqdist', 'boundary_points', 'outliers_around', 'synthesize', 'step_seed', 'NPOSOutlierSynthesis',
    'LogitNormLoss', 'OutlierRegLoss'
]

#: the default bound on the elements of one similarity block (2**25 fp32 values = 128 MiB).
MAX_BLOCK = 2 ** 25
REJECTION_RULES = ('fixed', 'reference')


def _compute_dtype(*tensors: Tensor) -> torch.dtype:
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def _kth_largest(sims: Tensor, k: int) -> Tensor:
    """The k-th largest value along the last dimension (``-inf`` where fewer than k values are finite)."""
    return sims.topk(k, dim=-1, sorted=False).values.amin(dim=-1)


def _sqdist_from_cos(cos: Tensor) -> Tensor:
    """``2 − 2·cos`` clamped at 0 (rounding can push a row's similarity with itself above 1)."""
    return (2 - 2 * cos).clamp_min(0)


def _chunks(total: int, per_item: int, max_block: int) -> Iterator[Tuple[int, int]]:
    step = max(1, int(max_block) // max(1, per_item))
    for start in range(0, total, step):
        yield start, min(total, start + step)


def _check_sizes(queue_size: int, k: int, select: Optional[int] = None, picks: Optional[int] = None,
                 keep: Optional[int] = None, num_draws: Optional[int] = None, rejection: Optional[str] = None,
                 error: type = ValueError) -> None:
    """Raise ``error`` unless 1 ≤ K ≤ N, 1 ≤ select ≤ N, 1 ≤ P ≤ select, 1 ≤ m ≤ L (those that are given)."""
    if not 1 <= k <= queue_size:
        raise error(f'NPOS: K = {k} must be in [1, queue size N = {queue_size}]')
    if select is not None and not 1 <= select <= queue_size:
        raise error(f'NPOS: select = {select} must be in [1, queue size N = {queue_size}]')
    if picks is not None and select is not None and not 1 <= picks <= select:
        raise error(f'NPOS: picks P = {picks} must be in [1, select = {select}]')
    if keep is not None and num_draws is not None and not 1 <= keep <= num_draws:
        raise error(f'NPOS: keep m = {keep} must be in [1, num_draws L = {num_draws}]')
    if rejection is not None:
        if rejection not in REJECTION_RULES:
            raise error(f'NPOS: rejection must be one of {REJECTION_RULES}, got {rejection!r}')
        if rejection == 'reference' and (picks == 1 or keep == 1):
            raise error(f"NPOS: rejection='reference' needs picks P >= 2 and keep m >= 2 (the reference raises "
                        f"IndexError there, NP-2), got P = {picks}, m = {keep}; use rejection='fixed'")


def _class_index(queues: Tensor, counts: Tensor, classes: Optional[Tensor]) -> Tensor:
    if queues.ndim != 3:
        raise ValueError(f'NPOS: queues must be (C, N, d), got shape {tuple(queues.shape)}')
    if counts.shape != queues.shape[:1]:
        raise ValueError(f'NPOS: counts of shape {tuple(counts.shape)} for {queues.shape[0]} queues')
    if classes is None:
        return torch.arange(queues.shape[0], device=queues.device)
    classes = torch.as_tensor(classes, device=queues.device).long().reshape(-1)
    if classes.numel() and not (0 <= int(classes.min()) and int(classes.max()) < queues.shape[0]):
        raise ValueError(f'NPOS: class indices must be in [0, {queues.shape[0]})')
    return classes


def _check_filled(counts: Tensor, need: int, what: str) -> None:
    if counts.numel() and int(counts.min()) < need:
        bad = int(torch.argmin(counts))
        raise ValueError(f'NPOS: {what} needs at least {need} filled rows per queue; queue {bad} holds '
                         f'{int(counts[bad])}')


def _load_chunk(queues: Tensor, counts: Tensor, idx: Tensor, dtype: torch.dtype) -> Tuple[Tensor, Tensor, Tensor]:
    """Raw rows (c, N, d), their unit versions and the (c, N) mask of filled rows of the queues ``idx``."""
    raw = queues.index_select(0, idx).to(dtype)
    valid = torch.arange(queues.shape[1], device=queues.device)[None, :] < counts.index_select(0, idx)[:, None]
    return raw, F.normalize(raw, dim=-1), valid


def _batched_kth_sqdist(unit_queries: Tensor, unit_bank: Tensor, valid: Tensor, k: int) -> Tensor:
    """(c, n, d) unit queries vs (c, N, d) unit banks with (c, N) masks → (c, n) K-th smallest squared distances."""
    sims = torch.bmm(unit_queries, unit_bank.transpose(1, 2))
    sims.masked_fill_(~valid[:, None, :], float('-inf'))
    return _sqdist_from_cos(_kth_largest(sims, k))


def kth_neighbour_sqdist(queries: Tensor, bank: Tensor, k: int, valid: Optional[Tensor] = None,
                         max_block: int = MAX_BLOCK) -> Tensor:
    """``δ_K``: the K-th smallest squared L2 distance between each normalised query and the normalised bank rows.

    Computed as ``2 − 2·(K-th largest cosine)`` (clamped at 0) in float32, or float64 when an input is float64.
    A query equal to a bank row (up to scale) has that row as its first neighbour at distance 0, and
    duplicated rows give 0. Zero rows normalise to 0 (cosine 0), but should be masked with ``valid``.

    Args:
        queries: (n, d) features, any scale and floating dtype.
        bank: (N, d) features, any scale.
        k: ``K``, 1 ≤ K ≤ N.
        valid: (N,) bool mask of the bank rows that may be neighbours (None: all); a query with fewer than K valid
            rows gets ``inf``.
        max_block: at most this many similarities are held at once (the queries are processed in chunks).

    Returns:
        (n,) distances on ``bank``'s device, in the compute dtype.
    """
    if queries.ndim != 2 or bank.ndim != 2 or queries.shape[1] != bank.shape[1]:
        raise ValueError(f'NPOS: queries (n, d) and bank (N, d) expected, got {tuple(queries.shape)} and '
                         f'{tuple(bank.shape)}')
    _check_sizes(bank.shape[0], k)
    dtype = _compute_dtype(queries, bank)
    unit_bank = F.normalize(bank.to(dtype), dim=-1)[None]
    if valid is None:
        valid = torch.ones(bank.shape[0], dtype=torch.bool, device=bank.device)
    valid = valid.to(device=bank.device, dtype=torch.bool).reshape(1, -1)
    if valid.shape[1] != bank.shape[0]:
        raise ValueError(f'NPOS: valid mask of length {valid.shape[1]} for a bank of {bank.shape[0]} rows')
    queries = queries.to(device=bank.device, dtype=dtype)
    out = [
        _batched_kth_sqdist(F.normalize(queries[start:end], dim=-1)[None], unit_bank, valid, k)[0]
        for start, end in _chunks(queries.shape[0], bank.shape[0], max_block)
    ]
    return torch.cat(out) if out else queries.new_zeros(0)


def boundary_points(queues: Tensor, counts: Tensor, k: int, select: int, classes: Optional[Tensor] = None,
                    max_block: int = MAX_BLOCK) -> Tensor:
    """Per class, the ``select`` filled rows with the largest ``δ_K(q | Q_c)`` (each row its own 1st neighbour).

    Rows ``count_c..N−1`` of queue ``c`` are unfilled: they are never neighbours and never selected. The classes
    are processed in chunks with one ``bmm`` each, at most ``max_block`` similarities at a time.

    Args:
        queues: (C, N, d) raw features.
        counts: (C,) filled rows per queue (rows ``0..count_c−1`` are filled); each used queue needs
            ``count_c ≥ max(K, select)``.
        k: ``K``, 1 ≤ K ≤ N.
        select: boundary rows per class, 1 ≤ select ≤ N.
        classes: (C',) indices of the queues to use (None: all).
        max_block: bound on the elements of one similarity block.

    Returns:
        (C', select) long row indices, ordered by decreasing ``δ_K`` (exact ties: lower row first).
    """
    idx = _class_index(queues, counts, classes)
    num_rows = queues.shape[1]
    _check_sizes(num_rows, k, select)
    _check_filled(counts.index_select(0, idx), max(k, select), f'boundary selection (K = {k}, select = {select})')
    dtype = _compute_dtype(queues)
    out = []
    for start, end in _chunks(idx.numel(), num_rows * num_rows, max_block):
        _, unit, valid = _load_chunk(queues, counts, idx[start:end], dtype)
        delta = _batched_kth_sqdist(unit, unit, valid, k)
        delta.masked_fill_(~valid, float('-inf'))
        out.append(torch.sort(delta, dim=1, descending=True, stable=True).indices[:, :select])
    return torch.cat(out) if out else torch.zeros(0, select, dtype=torch.long, device=queues.device)


def _top_indices(values: Tensor, count: int, dim: int) -> Tensor:
    """Indices of the ``count`` largest values along ``dim``, decreasing (exact ties: lower index first)."""
    return torch.sort(values, dim=dim, descending=True, stable=True).indices.narrow(dim, 0, count)


def _reject(delta: Tensor, picks: int, num_draws: int, keep: int, rejection: str) -> Tensor:
    """(c, P·L) candidate distances (pick-major) → (c, P·m) flat indices of the kept candidates."""
    c = delta.shape[0]
    offsets = torch.arange(picks, device=delta.device)[None, :, None] * num_draws
    if rejection == 'fixed':
        # per pick p, the m largest δ among its candidates p·L .. p·L + L − 1
        rank = _top_indices(delta.view(c, picks, num_draws), keep, dim=2)
    else:
        # as coded in the reference (NP-2): view [L, P] row-major, top-m per column i, flat index i·L + r;
        # (r, i) of the view is candidate r·P + i, so the kept candidates are not the ranked ones for P ≥ 2
        rank = _top_indices(delta.view(c, num_draws, picks), keep, dim=1).transpose(1, 2)
    return (rank + offsets).reshape(c, picks * keep)


def outliers_around(queues: Tensor, counts: Tensor, centres: Tensor, noise: Tensor, sigma: float, k: int,
                    keep: int, rejection: str = 'fixed', classes: Optional[Tensor] = None,
                    max_block: int = MAX_BLOCK) -> Tuple[Tensor, Tensor]:
    """Candidates ``v_{p,l} = q_{centre_p} + σ·e_l`` around given queue rows, then rejection by ``δ_K(v | Q_c)``.

    Args:
        queues: (C, N, d) raw features.
        counts: (C,) filled rows per queue (each used queue needs ``count_c ≥ K``).
        centres: (C', P) row indices of the chosen boundary points of each used queue (filled rows).
        noise: (L, d) the draws ``e_l`` (shared by every class and pick).
        sigma: ``σ``, the noise scale (covariance σ²·I).
        k: ``K`` of the distance.
        keep: ``m``, candidates kept per pick, 1 ≤ m ≤ L.
        rejection: ``'fixed'`` (the m largest δ of each pick) or ``'reference'`` (NP-2's permuted selection,
            P, m ≥ 2).
        classes: (C',) indices of the used queues (None: all, C' = C).
        max_block: bound on the elements of one similarity block (the classes are chunked).

    Returns:
        ``(outliers, class_ids)``: (C'·P·m, d) raw outliers, class-major then pick-major (for ``'fixed'`` each
        pick's m outliers by decreasing δ, exact ties: lower draw first), and their (C'·P·m,) long class
        indices.
    """
    idx = _class_index(queues, counts, classes)
    _, num_rows, dim = queues.shape
    centres = torch.as_tensor(centres, device=queues.device).long()
    if centres.ndim != 2 or centres.shape[0] != idx.numel():
        raise ValueError(f'NPOS: centres must be ({idx.numel()}, P), got shape {tuple(centres.shape)}')
    if noise.ndim != 2 or noise.shape[1] != dim:
        raise ValueError(f'NPOS: noise must be (L, {dim}), got shape {tuple(noise.shape)}')
    picks, num_draws = centres.shape[1], noise.shape[0]
    _check_sizes(num_rows, k, None, picks, keep, num_draws, rejection)
    used_counts = counts.index_select(0, idx)
    _check_filled(used_counts, k, f'rejection (K = {k})')
    if centres.numel() and (int(centres.min()) < 0 or bool((centres >= used_counts[:, None]).any())):
        raise ValueError('NPOS: centres must index filled queue rows')
    dtype = _compute_dtype(queues, noise)
    scaled = float(sigma) * noise.to(device=queues.device, dtype=dtype)
    outliers = []
    for start, end in _chunks(idx.numel(), picks * num_draws * (num_rows + 2 * dim), max_block):
        raw, unit, valid = _load_chunk(queues, counts, idx[start:end], dtype)
        c = end - start
        centre = raw.gather(1, centres[start:end, :, None].expand(c, picks, dim))
        cand = (centre[:, :, None, :] + scaled[None, None]).reshape(c, picks * num_draws, dim)
        delta = _batched_kth_sqdist(F.normalize(cand, dim=-1), unit, valid, k)
        kept = _reject(delta, picks, num_draws, keep, rejection)
        outliers.append(cand.gather(1, kept[:, :, None].expand(c, kept.shape[1], dim)).reshape(-1, dim))
    class_ids = idx.repeat_interleave(picks * keep)
    if not outliers:
        return queues.new_zeros(0, dim, dtype=dtype), class_ids
    return torch.cat(outliers), class_ids


def synthesize(queues: Tensor, counts: Tensor, k: int, select: int, picks: int, num_draws: int, sigma: float,
               keep: int, generator: Optional[torch.Generator] = None, rejection: str = 'fixed',
               classes: Optional[Tensor] = None, max_block: int = MAX_BLOCK) -> Tuple[Tensor, Tensor]:
    """One NPOS synthesis step over the given queues (the reference's ``KNN.py``, corrected rejection by default).

    Random draws, all from ``generator`` on the CPU in this order: the noise ``E = torch.randn(L, d)`` (float32,
    once per call, shared by all classes and picks: NP-13), then for each used class in order
    ``torch.randperm(select)[:P]``, the positions of the picks in the class's boundary list (ordered by decreasing
    δ, :func:`boundary_points`). The result therefore does not depend on the device of ``queues`` up to rounding.

    Args:
        queues: (C, N, d) raw features.
        counts: (C,) filled rows per queue; each used queue needs ``count_c ≥ max(K, select)``.
        k: ``K`` of δ_K, 1 ≤ K ≤ N.
        select: boundary rows per class, 1 ≤ select ≤ N.
        picks: ``P`` boundary rows drawn per class, 1 ≤ P ≤ select.
        num_draws: ``L`` Gaussian draws per pick.
        sigma: ``σ`` (the draws are ``b + σ·e``, covariance σ²·I).
        keep: ``m`` candidates kept per pick, 1 ≤ m ≤ L.
        generator: CPU generator of the draws (None: torch's global one).
        rejection: ``'fixed'`` or ``'reference'`` (NP-2, P, m ≥ 2), see :func:`outliers_around`.
        classes: (C',) the queues to synthesise from (None: all).
        max_block: bound on the elements of one similarity block.

    Returns:
        ``(outliers, class_ids)``: (C'·P·m, d) raw outliers (class-major, pick-major) and their class indices.
    """
    idx = _class_index(queues, counts, classes)
    _check_sizes(queues.shape[1], k, select, picks, keep, num_draws, rejection)
    noise = torch.randn(num_draws, queues.shape[2], generator=generator, dtype=torch.float32)
    boundary = boundary_points(queues, counts, k, select, idx, max_block)
    if idx.numel():
        position = torch.stack([torch.randperm(select, generator=generator)[:picks] for _ in range(idx.numel())])
        centres = boundary.gather(1, position.to(boundary.device))
    else:
        centres = boundary.new_zeros(0, picks)
    return outliers_around(queues, counts, centres, noise, sigma, k, keep, rejection, idx, max_block)


def step_seed(seed: int, step: int) -> int:
    """The 32-bit seed of synthesis call ``step`` of a run with base ``seed`` (NumPy's SeedSequence hash)."""
    return int(np.random.SeedSequence([int(seed), int(step)]).generate_state(1)[0])


@MODELS.register_module()
class NPOSOutlierSynthesis(nn.Module):
    """Per-class FIFO feature queues and NPOS outlier synthesis, with all state in (persistent) buffers.

    Buffers: ``queue`` (C, N, d) float32 raw features, ``count`` (C,) filled rows, ``ptr`` (C,) the ring-buffer
    slot of the oldest row (0 until the queue is full), ``step`` the number of synthesis calls made. Call ``s``
    draws from a CPU generator seeded with ``numpy.random.SeedSequence([seed, s]).generate_state(1)[0]`` (torch's
    CPU generator keeps 32 bits of a seed, so the pair is hashed rather than packed into one integer), so a module
    restored from a checkpoint draws what the uninterrupted run would have drawn. A full queue holds the
    reference's rows (the last N pushed samples of the class) in rotated order; the boundary list is ordered by δ,
    so the selection agrees with the reference's up to ties.

    Distributed training: all-gather (features, labels) and call :meth:`push` with the same global batch on every
    rank; the queues then stay identical, and every rank draws the same outliers (same seed and step), so nothing
    here communicates. If the owning model is wrapped in DDP with ``broadcast_buffers=True`` (the default), rank
    0's queues are also broadcast at every forward (2 GB at C = 1000): harmless, but ``broadcast_buffers=False``
    avoids the traffic.

    Args:
        num_classes: ``C``.
        feat_dim: ``d``.
        queue_size: ``N`` rows per class (1000).
        k: ``K`` of δ_K (400 in the IN-100 script).
        select: boundary rows per class (300).
        picks: ``P`` boundary rows drawn per class and call (3).
        num_draws: ``L`` Gaussian draws per call (1500).
        sigma: ``σ`` (0.1; covariance σ²·I).
        keep: ``m`` outliers kept per pick (2, hard-coded in the reference's CLIP script, NP-7).
        rejection: ``'fixed'`` (default) or ``'reference'`` (NP-2, P, m ≥ 2).
        seed: base seed of the per-call generators, in [0, 2**31).
    """

    def __init__(self, num_classes: int, feat_dim: int, queue_size: int = 1000, k: int = 400, select: int = 300,
                 picks: int = 3, num_draws: int = 1500, sigma: float = 0.1, keep: int = 2,
                 rejection: str = 'fixed', seed: int = 0):
        super().__init__()
        if num_classes < 1 or feat_dim < 1 or queue_size < 1:
            raise ConfigError(f'NPOSOutlierSynthesis: num_classes, feat_dim and queue_size must be >= 1, got '
                              f'{num_classes}, {feat_dim}, {queue_size}')
        _check_sizes(queue_size, k, select, picks, keep, num_draws, rejection, error=ConfigError)
        if not sigma >= 0:
            raise ConfigError(f'NPOSOutlierSynthesis: sigma must be >= 0, got {sigma}')
        if not 0 <= seed < 2 ** 31:
            raise ConfigError(f'NPOSOutlierSynthesis: seed must be in [0, 2**31), got {seed}')
        self.num_classes, self.feat_dim, self.queue_size = int(num_classes), int(feat_dim), int(queue_size)
        self.k, self.select, self.picks, self.num_draws = int(k), int(select), int(picks), int(num_draws)
        self.sigma, self.keep, self.rejection, self.seed = float(sigma), int(keep), rejection, int(seed)
        self.register_buffer('queue', torch.zeros(num_classes, queue_size, feat_dim))
        self.register_buffer('count', torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer('ptr', torch.zeros(num_classes, dtype=torch.long))
        self.register_buffer('step', torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, feat_dim={self.feat_dim}, queue_size={self.queue_size}, '
                f'k={self.k}, select={self.select}, picks={self.picks}, num_draws={self.num_draws}, '
                f'sigma={self.sigma}, keep={self.keep}, rejection={self.rejection!r}, seed={self.seed}')

    @torch.no_grad()
    def push(self, feats: Tensor, labels: Tensor) -> None:
        """Append detached features to their class queues; a full queue drops its oldest row (FIFO).

        Equal to pushing the samples one by one in batch order: while ``count_c < N`` write slot ``count_c``, else
        overwrite slot ``ptr_c`` (the oldest) and advance ``ptr_c``.

        Args:
            feats: (B, d) raw features (any floating dtype; stored as float32).
            labels: (B,) class indices in [0, C).
        """
        if feats.ndim != 2 or feats.shape[1] != self.feat_dim:
            raise ValueError(f'NPOS push: features must be (B, {self.feat_dim}), got {tuple(feats.shape)}')
        device = self.queue.device
        labels = torch.as_tensor(labels, device=device).long().reshape(-1)
        if labels.numel() != feats.shape[0]:
            raise ValueError(f'NPOS push: {labels.numel()} labels for {feats.shape[0]} features')
        if labels.numel() == 0:
            return
        if int(labels.min()) < 0 or int(labels.max()) >= self.num_classes:
            raise ValueError(f'NPOS push: labels must be in [0, {self.num_classes})')
        feats = feats.detach().to(device=device, dtype=self.queue.dtype)
        size = self.queue_size
        per_class = torch.bincount(labels, minlength=self.num_classes)
        order = torch.sort(labels, stable=True).indices
        sorted_labels = labels[order]
        first = torch.cumsum(per_class, 0) - per_class
        rank = torch.arange(labels.numel(), device=device) - first[sorted_labels]  # j-th sample of its class
        # a sample followed by N more of its class is overwritten within this batch: drop it (unique slots)
        survives = rank >= per_class[sorted_labels] - size
        order, sorted_labels, rank = order[survives], sorted_labels[survives], rank[survives]
        # ptr = 0 while count < N, so this is slot count + j during the fill and ptr + j (mod N) afterwards
        slot = (self.ptr[sorted_labels] + self.count[sorted_labels] + rank) % size
        self.queue[sorted_labels, slot] = feats[order]
        overwritten = (self.count + per_class - size).clamp_min(0)
        self.ptr.copy_((self.ptr + overwritten) % size)
        self.count.copy_((self.count + per_class).clamp_max(size))

    def ready(self, classes: Optional[Tensor] = None) -> Tensor:
        """Bool mask of the classes whose queue is full (``count_c == N``; NP-3's per-class gate)."""
        full = self.count == self.queue_size
        return full if classes is None else full[torch.as_tensor(classes, device=full.device).long()]

    def generator(self, step: Optional[int] = None) -> torch.Generator:
        """The CPU generator of synthesis call ``step`` (default: the next call)."""
        step = int(self.step) if step is None else int(step)
        return torch.Generator().manual_seed(step_seed(self.seed, step))

    @torch.no_grad()
    def sample(self) -> Tuple[Tensor, Tensor]:
        """Synthesise outliers from the full queues and advance ``step`` (also when no queue is full).

        Returns:
            ``(outliers, class_ids)``: (M, d) float32 raw outliers, M = (#full classes)·P·m, and their (M,) long
            class indices; empty (0, d) and (0,) tensors when no queue is full.
        """
        generator = self.generator()
        self.step.add_(1)
        full = torch.nonzero(self.ready()).flatten()
        if full.numel() == 0:
            return self.queue.new_zeros(0, self.feat_dim), full.new_zeros(0)
        return synthesize(self.queue, self.count, self.k, self.select, self.picks, self.num_draws, self.sigma,
                          self.keep, generator, self.rejection, classes=full)

    def forward(self) -> Tuple[Tensor, Tensor]:
        """Same as :meth:`sample`."""
        return self.sample()


@MODELS.register_module()
class LogitNormLoss(nn.Module):
    """LogitNorm cross-entropy: ``CE(z, y)`` with ``z_i = s_i / ((‖s_i‖₂ + 1e-7)·T)`` (the reference's
    ``CLIP/logitnorm_loss.py``, T = 8).

    Row normalisation cancels any per-batch scale of the logits (tested in
    ``tests/test_models/test_npos_synthesis.py``): the reference's batch-Frobenius logits and
    per-row cosine logits give the same loss up to the epsilon.

    Args:
        temperature: ``T`` (8.0, the reference's never-overridden default, NP-6).
        loss_weight: factor on the loss.
    """

    def __init__(self, temperature: float = 8.0, loss_weight: float = 1.0):
        super().__init__()
        if not temperature > 0:
            raise ConfigError(f'LogitNormLoss temperature must be > 0, got {temperature}')
        self.temperature, self.loss_weight = float(temperature), float(loss_weight)

    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        """Scalar mean LogitNorm cross-entropy of (B, C) logits against (B,) class indices."""
        x = logits if logits.dtype == torch.float64 else logits.float()
        z = x / ((x.norm(p=2, dim=-1, keepdim=True) + 1e-7) * self.temperature)
        return self.loss_weight * F.cross_entropy(z, labels.long())


@MODELS.register_module()
class OutlierRegLoss(nn.Module):
    """NPOS's outlier regulariser: BCE-with-logits of φ(ID) → 1 and φ(outliers) → 0, one mean over B + M.

    Args:
        loss_weight: ``λ`` (0.1).
    """

    def __init__(self, loss_weight: float = 0.1):
        super().__init__()
        if not loss_weight >= 0:
            raise ConfigError(f'OutlierRegLoss loss_weight must be >= 0, got {loss_weight}')
        self.loss_weight = float(loss_weight)

    def forward(self, id_logits: Tensor, outlier_logits: Tensor, world_size: int = 1) -> Tensor:
        """``λ · mean_{B+M} BCEWithLogits``; a zero connected to ``id_logits`` when there is no outlier (M = 0).

        Under DDP each of the ``world_size`` processes holds B/W of the global batch's ID logits and all M outliers
        (the same on every rank), and DDP averages the gradients over processes. Each process therefore returns
        ``λ (W Σ_local BCE(id) + Σ BCE(outliers)) / (B + M)``: the average over processes is exactly the single mean
        over the global B + M (NP-13), not an M-weighted one.

        Args:
            id_logits: (B/W,) or (B/W, 1) outlier-head logits of this process's ID features (label 1).
            outlier_logits: (M,) or (M, 1) logits of synthesised outliers (label 0), the same on every process.
            world_size: W, the number of processes sharing the batch (1: the plain mean).
        """
        id_logits, outlier_logits = id_logits.reshape(-1), outlier_logits.reshape(-1)
        if outlier_logits.numel() == 0:
            return id_logits.sum() * 0.0
        dtype = _compute_dtype(id_logits, outlier_logits)
        world = int(world_size)
        id_logits, outlier_logits = id_logits.to(dtype), outlier_logits.to(dtype)
        id_terms = F.binary_cross_entropy_with_logits(id_logits, torch.ones_like(id_logits), reduction='sum')
        out_terms = F.binary_cross_entropy_with_logits(outlier_logits, torch.zeros_like(outlier_logits),
                                                       reduction='sum')
        total = world * id_logits.numel() + outlier_logits.numel()
        return self.loss_weight * (world * id_terms + out_terms) / total
