"""AdaNeg: NegLabel with a test-time memory of image features that adapts the label proxies.

Paper: Y. Zhang, L. Zhang, "AdaNeg: Adaptive Negative Proxy Guided OOD Detection with Vision-Language Models",
NeurIPS 2024, arXiv:2410.20149.

Set-up: ``T`` holds ``C`` unit label embeddings, the first ``K`` are the ID labels, the other ``M = C - K`` the
mined negatives. ``G(z)`` is NegLabel's grouped score (:func:`~.neglabel.neglabel_score`) on logits
``z = [z_ID, z_neg]`` that already include the logit scale ``s`` (reference: ``s = 100``, 5 groups).

Every label ``c`` owns a memory of ``L + 1`` slots; slot 0 holds its text embedding ``T_c``, the others receive
test images. One batch ``X`` of a stream is processed as:

1. ``z = s * X T^T`` and ``S_nl = G(z)``.
2. ID writes: an image with ``S_nl > gamma + gap * (1 - gamma)`` goes to label ``argmax_k z_ID``, with the entropy
   ``h`` of ``softmax(z_ID)``.
3. Negative writes: an image with ``S_nl < gamma - gap * gamma`` goes to label ``K + argmax_j z_neg``, with the
   entropy of ``softmax(z_neg)`` (negatives only).
   A label that is full replaces its stored image of largest entropy when ``h`` is smaller.
4. Proxies, from the filled slots ``m_c0 = T_c, m_c1, ...``::

       task:    P_c    = unit( sum_l m_cl )
       sample:  P_c(x) = unit( sum_l exp(-beta * (1 - <m_cl, x>)) * m_cl )

5. ``z'_c = s * <x, P_c>``, ``S_ada = G(z')`` with the same groups, and the score is::

       S_AdaNeg(x) = S_ada(x) + lambda * S_nl(x)        (reference: lambda = 0.1)

Decisions relative to the reference implementation (``YBZh/OpenOOD-VLM``, ``TTAPromptPostprocessor_noadagap``;
see docs/adaneg.md and docs/reference_deviations.md):

* ADA-1 (fixed): entropies are computed in float32 (float64 for float64 inputs), not in fp16 where they are NaN.
  They are ``-sum p log(p + 1e-8)`` clamped at 0, and replacement only ever considers written slots, so neither the
  text prototype (slot 0) nor an unused slot is overwritten (the reference overwrites them when a saturated
  softmax gives an entropy of about ``-1e-8``). ``replacement='none'`` keeps the first writes.
* ADA-2 (reproduced, default): a label stores at most ``L - 1`` images (slot ``L`` is never written);
  ``full_capacity=True`` stores ``L``.
* ADA-3 (reproduced): the reference truncates ``beta = 5.5`` to ``int(5.5) = 5``; the default here is
  ``beta = 5.0`` and any float is accepted.
* ADA-5 (reproduced, default): a batch is written before it is scored (its images are in their own proxies);
  ``score_before_update=True`` scores with the memory of the previous batches.

The sample-adaptive logit is evaluated without forming the ``(B, C, D)`` proxies: with ``c_l = <m_cl, x>`` and
``w_l = exp(-beta (1 - c_l))`` on filled slots, ``<x, P_c(x)> = sum_l w_l c_l / sqrt(w^T G_c w)`` where ``G_c`` is
the Gram matrix of the label's slots.

Sign: **higher = more in-distribution**.
"""
import math
from typing import Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor

from .neglabel import group_permutation, neglabel_score

__all__ = ['AdaNegMemory', 'adaneg_stream_scores']

_REPLACEMENTS = ('entropy', 'none')
_PROXIES = ('task', 'sample')
# Entropy of softmax(z) is -sum p * log(p + _LOG_EPS), as in the reference.
_LOG_EPS = 1e-8
# Temporaries of one chunk of labels in the proxy computations (bytes).
_CHUNK_BYTES = 64 * 2**20


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64, everything else is computed in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _finite(value: Union[float, int], name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f'{name} must be a finite number, got {value!r}.')
    return value


def _check_beta(beta: Union[float, int]) -> float:
    beta = _finite(beta, 'beta')
    if beta < 0:
        raise ValueError(f'beta must be >= 0, got {beta!r}.')
    return beta


def _entropy(logits: Tensor) -> Tensor:
    """Row entropies ``-sum p log(p + 1e-8)`` of ``softmax(logits)``, clamped at 0 (float32 or float64)."""
    prob = torch.softmax(logits.to(_compute_dtype(logits.dtype)), dim=1)
    return (prob * (prob + _LOG_EPS).log()).sum(dim=1).neg().clamp_min(0.0)


class AdaNegMemory:
    """Per-label memory of an AdaNeg stream.

    The memory has ``L + 1`` slots per label (``L = memleng``). Slot 0 of every label holds its text embedding and
    is never overwritten. Images are appended to slots ``1, 2, ...``; a label is full after ``L - 1`` images
    (reference behaviour, ADA-2: slot ``L`` is never written) or after ``L`` images with ``full_capacity=True``.

    The storage is a dense ``(C, L + 1, D)`` tensor in float32 (float64 if ``text`` is float64) on the device of
    ``text``: about 250 MB for ``C = 11000``, ``L = 10``, ``D = 512`` in float32. The write bookkeeping (counts and
    stored entropies) lives in Python on the host.

    Args:
        text (Tensor): ``(C, D)`` unit label embeddings; the first ``num_id`` rows are the ID labels, the others
            the negative labels. Not scaled by the logit scale.
        num_id (int): Number of ID labels ``K`` (``1 <= K < C``).
        memleng (int): Number of image slots ``L`` per label (``>= 1``). Defaults to 10.
        full_capacity (bool): Store ``L`` images per label instead of the reference's ``L - 1``. Defaults to False.
        replacement (str): ``'entropy'``: a full label overwrites its stored image of largest entropy when the new
            image's entropy is smaller. ``'none'``: the first writes are kept. Defaults to ``'entropy'``.

    Raises:
        ValueError: On malformed ``text`` (not 2-D floating, rows not of unit norm), an out-of-range ``num_id`` or
            ``memleng``, or an unknown ``replacement``.
    """

    def __init__(self,
                 text: Tensor,
                 num_id: int,
                 memleng: int = 10,
                 full_capacity: bool = False,
                 replacement: str = 'entropy') -> None:
        if not isinstance(text, Tensor) or text.ndim != 2 or not text.is_floating_point():
            raise ValueError('text must be a 2-D floating torch.Tensor of shape (C, D).')
        num_labels, dim = text.shape
        num_id = int(num_id)
        if not 1 <= num_id < num_labels:
            raise ValueError(f'num_id must be in [1, C - 1] = [1, {num_labels - 1}] (at least one ID and one '
                             f'negative label), got {num_id}.')
        if dim < 1:
            raise ValueError('text must have at least one feature column (D >= 1).')
        memleng = int(memleng)
        if memleng < 1:
            raise ValueError(f'memleng must be >= 1, got {memleng}.')
        if replacement not in _REPLACEMENTS:
            raise ValueError(f'replacement must be one of {_REPLACEMENTS}, got {replacement!r}.')
        dtype = _compute_dtype(text.dtype)
        text = text.detach().to(dtype).contiguous()
        norms = text.norm(dim=1)
        if not bool(torch.isfinite(norms).all()) or float((norms - 1).abs().max()) > 1e-2:
            raise ValueError('text rows must be unit (L2-normalised) embeddings without a logit scale; got norms in '
                             f'[{float(norms.min()):.4g}, {float(norms.max()):.4g}].')
        self.text = text
        self.num_id = num_id
        self.memleng = memleng
        self.full_capacity = bool(full_capacity)
        self.replacement = replacement
        # a label holds slots [0, n_c); it is full when n_c reaches this value
        self._max_count = memleng + 1 if self.full_capacity else memleng
        self._mem = text.new_zeros(num_labels, memleng + 1, dim)
        self._mem[:, 0] = text
        self._count = torch.ones(num_labels, dtype=torch.long, device=text.device)
        self._n: List[int] = []
        self._h: List[List[float]] = []
        self.reset()

    # ------------------------------------------------------------------ state
    @property
    def num_labels(self) -> int:
        """Number of labels ``C``."""
        return self._mem.shape[0]

    @property
    def capacity(self) -> int:
        """Number of images a label can hold: ``L - 1`` (reference) or ``L`` (``full_capacity``)."""
        return self._max_count - 1

    @property
    def dtype(self) -> torch.dtype:
        """Storage dtype (float32 or float64)."""
        return self._mem.dtype

    @property
    def device(self) -> torch.device:
        """Device of the storage."""
        return self._mem.device

    @property
    def slots(self) -> Tensor:
        """The ``(C, L + 1, D)`` storage (slot 0 = text, unused slots are zero). Read it, do not modify it."""
        return self._mem

    @property
    def num_images(self) -> Tensor:
        """``(C,)`` number of stored images per label (filled slots minus the text slot)."""
        return self._count - 1

    @property
    def entropies(self) -> Tensor:
        """``(C, L + 1)`` float64 entropies of the stored images (0 for slot 0 and unused slots), on the host."""
        return torch.tensor(self._h, dtype=torch.float64)

    def reset(self) -> None:
        """Forget every image: text-only slots, one filled slot per label, entropies 0."""
        active = self._active()  # every written slot belongs to a label with images
        if active.numel():
            self._mem[active, 1:] = 0
        self._count.fill_(1)
        self._n = [1] * self.num_labels
        self._h = [[0.0] * (self.memleng + 1) for _ in range(self.num_labels)]

    # ------------------------------------------------------------------ writes
    def write(self, x: Tensor, logits: Tensor, s_nl: Tensor, gamma: float = 0.5, gap: float = 0.5) -> Dict[str, int]:
        """Write the confident images of one batch (steps 2 and 3 of the algorithm).

        ID writes come first: every image with ``s_nl > gamma + gap * (1 - gamma)`` goes to label
        ``argmax_k logits[:, :K]`` with the entropy of ``softmax(logits[:, :K])``. Then every image with
        ``s_nl < gamma - gap * gamma`` goes to label ``K + argmax_j logits[:, K:]`` with the entropy of the softmax
        over the negatives only. Images are processed in batch order, so a later image sees the earlier writes of
        the same batch.

        A label with free slots stores the image in its next slot. A full label, with ``replacement='entropy'``,
        overwrites the written slot of largest stored entropy if the new entropy is strictly smaller, and skips the
        image otherwise; with ``replacement='none'`` it skips it. Entropies are ``-sum p log(p + 1e-8)`` in float32
        (float64 for float64 logits), clamped at 0; slot 0 and unused slots are never replaced.

        Args:
            x (Tensor): ``(B, D)`` unit image embeddings.
            logits (Tensor): ``(B, C)`` scaled logits ``s * x @ text.T``.
            s_nl (Tensor): ``(B,)`` static NegLabel scores that decide the writes.
            gamma (float): Threshold ``gamma``. Defaults to 0.5.
            gap (float): Gap ``g``: ID writes above ``gamma + g (1 - gamma)``, negative writes below
                ``gamma - g gamma``. Defaults to 0.5.

        Returns:
            dict: ``written`` (images stored in a free slot), ``replaced`` (images that overwrote a stored one) and
            ``skipped`` (confident images that found their label full and were not stored).

        Raises:
            ValueError: On mismatched shapes or non-finite ``gamma`` / ``gap``.
        """
        num_labels, dim = self._mem.shape[0], self._mem.shape[2]
        if not all(isinstance(t, Tensor) for t in (x, logits, s_nl)):
            raise ValueError('x, logits and s_nl must be torch.Tensors.')
        if x.ndim != 2 or x.shape[1] != dim:
            raise ValueError(f'x must have shape (B, {dim}), got {tuple(x.shape)}.')
        batch = x.shape[0]
        if logits.shape != (batch, num_labels):
            raise ValueError(f'logits must have shape ({batch}, {num_labels}), got {tuple(logits.shape)}.')
        if s_nl.shape != (batch, ):
            raise ValueError(f's_nl must have shape ({batch},), got {tuple(s_nl.shape)}.')
        gamma = _finite(gamma, 'gamma')
        gap = _finite(gap, 'gap')
        upper = gamma + gap * (1.0 - gamma)
        lower = gamma - gap * gamma

        # all the tensor work of the batch: who is written where, with which entropy
        candidates: List[Tuple[List[int], List[int], List[float]]] = []
        for is_id in (True, False):
            rows = torch.nonzero(s_nl > upper if is_id else s_nl < lower).squeeze(1).to(logits.device)
            if rows.numel() == 0:
                continue
            part = logits.index_select(0, rows)
            part = part[:, :self.num_id] if is_id else part[:, self.num_id:]
            labels = part.argmax(dim=1) + (0 if is_id else self.num_id)
            candidates.append((rows.tolist(), labels.tolist(), _entropy(part).tolist()))

        # per-image slot bookkeeping, in batch order within each pass
        stats = dict(written=0, replaced=0, skipped=0)
        targets: Dict[Tuple[int, int], int] = {}  # (label, slot) -> row of x; later writes win
        for rows, labels, ents in candidates:
            for row, label, ent in zip(rows, labels, ents):
                count, stored = self._n[label], self._h[label]
                if count < self._max_count:
                    slot = count
                    self._n[label] = count + 1
                    stats['written'] += 1
                elif self.replacement == 'entropy' and count > 1:
                    slot = max(range(1, count), key=stored.__getitem__)  # first slot of largest entropy
                    if not ent < stored[slot]:
                        stats['skipped'] += 1
                        continue
                    stats['replaced'] += 1
                else:
                    stats['skipped'] += 1
                    continue
                stored[slot] = ent
                targets[(label, slot)] = row

        if targets:
            keys = list(targets)
            labels = torch.tensor([k[0] for k in keys], dtype=torch.long, device=self.device)
            slots = torch.tensor([k[1] for k in keys], dtype=torch.long, device=self.device)
            rows = torch.tensor(list(targets.values()), dtype=torch.long, device=x.device)
            self._mem[labels, slots] = x.detach().index_select(0, rows).to(device=self.device, dtype=self.dtype)
            touched = sorted({k[0] for k in keys})
            self._count[torch.tensor(touched, dtype=torch.long, device=self.device)] = torch.tensor(
                [self._n[c] for c in touched], dtype=torch.long, device=self.device)
        return stats

    # ------------------------------------------------------------------ proxies
    def _active(self) -> Tensor:
        """Indices of the labels that hold at least one image."""
        return torch.nonzero(self._count > 1).squeeze(1)

    def _active_proxies(self, active: Tensor) -> Tensor:
        """``unit(sum_l m_cl)`` for the labels ``active``, ``(A, D)``, gathered in chunks of about 64 MB."""
        width = int(self._count.max())
        chunk = max(1, _CHUNK_BYTES // (width * self._mem.shape[2] * self._mem.element_size()))
        sums = torch.cat([self._mem[active[i:i + chunk], :width].sum(dim=1) for i in range(0, active.numel(), chunk)])
        return sums.div_(sums.norm(dim=1, keepdim=True))

    def task_proxies(self) -> Tensor:
        """Task-adaptive proxies ``P_c = unit(sum_l m_cl)`` over the filled slots.

        Labels without images keep their text row as given (unit by construction).

        Returns:
            Tensor: ``(C, D)`` proxies in the storage dtype.
        """
        proxies = self.text.clone()
        active = self._active()
        if active.numel():
            proxies[active] = self._active_proxies(active)
        return proxies

    def _check_x(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim != 2 or x.shape[1] != self._mem.shape[2]:
            raise ValueError(f'x must be a tensor of shape (B, {self._mem.shape[2]}), got '
                             f'{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}.')
        return x.detach().to(device=self.device, dtype=self.dtype)

    def _base_logits(self, x: Tensor, scale: float, text_logits: Optional[Tensor]) -> Tensor:
        """``scale * x @ text.T`` as a new tensor, copied from ``text_logits`` when given."""
        if text_logits is None:
            return (x @ self.text.T).mul_(scale)
        if not isinstance(text_logits, Tensor) or text_logits.shape != (x.shape[0], self.num_labels):
            raise ValueError(f'text_logits must have shape ({x.shape[0]}, {self.num_labels}), got '
                             f'{tuple(getattr(text_logits, "shape", ()))}.')
        return text_logits.to(device=self.device, dtype=self.dtype, copy=True)

    def task_logits(self, x: Tensor, scale: float = 100.0, text_logits: Optional[Tensor] = None) -> Tensor:
        """Logits on the task-adaptive proxies, ``scale * x @ task_proxies().T``.

        Only the columns of labels with images are computed; the others are the text logits.

        Args:
            x (Tensor): ``(B, D)`` unit image embeddings.
            scale (float): Logit scale ``s``. Defaults to 100.0.
            text_logits (Tensor, optional): ``(B, C)`` logits ``scale * x @ text.T`` already computed by the caller
                (with the same ``scale``), reused for the labels without images. Defaults to None.

        Returns:
            Tensor: ``(B, C)`` logits in the storage dtype, on the storage device.
        """
        x = self._check_x(x)
        scale = _finite(scale, 'scale')
        out = self._base_logits(x, scale, text_logits)
        active = self._active()
        if active.numel():
            out[:, active] = (x @ self._active_proxies(active).T).mul_(scale)
        return out

    def sample_proxies(self, x: Tensor, beta: float = 5.0, return_weights: bool = False
                       ) -> Union[Tensor, Tuple[Tensor, Tensor]]:
        """Sample-adaptive proxies ``P_c(x) = unit(sum_l exp(-beta (1 - <m_cl, x>)) m_cl)``, materialised.

        For tests on tiny inputs only: the result is ``(B, C, D)`` (and the weights ``(B, C, L + 1)``). Scoring uses
        :meth:`sample_logits`, which never forms it.

        Args:
            x (Tensor): ``(B, D)`` unit image embeddings.
            beta (float): Sharpness ``beta >= 0`` (the reference's 5.5 is truncated to 5). Defaults to 5.0.
            return_weights (bool): Also return the weights ``exp(-beta (1 - <m_cl, x>))`` (0 on unused slots).
                Defaults to False.

        Returns:
            Tensor or tuple: ``(B, C, D)`` proxies, and the ``(B, C, L + 1)`` weights if ``return_weights``.
        """
        x = self._check_x(x)
        beta = _check_beta(beta)
        filled = torch.arange(self._mem.shape[1], device=self.device) < self._count[:, None]  # (C, L + 1)
        cos = torch.einsum('bd,cld->bcl', x, self._mem)
        weights = torch.exp(-beta * (1.0 - cos)) * filled
        proxies = torch.einsum('bcl,cld->bcd', weights, self._mem)
        # no eps clamp (F.normalize's 1e-12 would bias proxies whose weights are all tiny at large beta)
        proxies = proxies / proxies.norm(dim=2, keepdim=True)
        return (proxies, weights) if return_weights else proxies

    def sample_logits(self,
                      x: Tensor,
                      beta: float = 5.0,
                      scale: float = 100.0,
                      text_logits: Optional[Tensor] = None) -> Tensor:
        """Logits on the sample-adaptive proxies, ``scale * <x, P_c(x)>``, without forming the proxies.

        With ``c_l = <m_cl, x>`` and ``w_l = exp(beta (c_l - max(0, max_l c_l)))`` on the filled slots (the shift
        cancels and keeps the weights in range; in float32 beta should stay below about 80 for images whose cosines
        with all the slots of a label are negative)::

            <x, P_c(x)> = sum_l w_l c_l / sqrt(w^T G_c w),   G_c = Gram matrix of the slots of label c.

        Labels without images get exactly their text logit ``scale * <x, T_c>``. The labels with images are
        processed in chunks of about 64 MB of temporaries.

        Args:
            x (Tensor): ``(B, D)`` unit image embeddings.
            beta (float): Sharpness ``beta >= 0``. Defaults to 5.0.
            scale (float): Logit scale ``s``. Defaults to 100.0.
            text_logits (Tensor, optional): ``(B, C)`` logits ``scale * x @ text.T`` already computed by the caller
                (with the same ``scale``), reused for the labels without images. Defaults to None.

        Returns:
            Tensor: ``(B, C)`` logits in the storage dtype, on the storage device.
        """
        x = self._check_x(x)
        beta = _check_beta(beta)
        scale = _finite(scale, 'scale')
        out = self._base_logits(x, scale, text_logits)
        active = self._active()
        if active.numel() and x.shape[0]:
            width = int(self._count.max())
            dim = self._mem.shape[2]
            itemsize = self._mem.element_size()
            per_label = width * itemsize * (dim + 4 * x.shape[0] + width)
            chunk = max(1, _CHUNK_BYTES // per_label)
            slot_ids = torch.arange(width, device=self.device)
            x_t = x.T
            for start in range(0, active.numel(), chunk):
                idx = active[start:start + chunk]
                mem = self._mem[idx, :width]  # (c, n, D)
                gram = mem @ mem.transpose(1, 2)  # (c, n, n)
                # layout (c, n, B): the reductions over the slots run along a non-contiguous axis, which is fast
                cos = (mem.reshape(-1, dim) @ x_t).view(idx.numel(), width, -1)
                # The shift includes the zero cosines of unused slots, so it is >= the largest filled cosine: the
                # weights are <= 1 and the largest filled one is >= exp(-beta) (>= 1 if that cosine is >= 0).
                weights = cos.sub(cos.amax(dim=1, keepdim=True)).mul_(beta).exp_()
                empty = slot_ids >= self._count[idx, None]  # (c, n)
                if bool(empty.any()):
                    weights.masked_fill_(empty[:, :, None], 0.0)
                quad = (gram @ weights).mul_(weights).sum(dim=1)  # (c, B)
                numer = cos.mul_(weights).sum(dim=1)
                out[:, idx] = numer.div_(quad.sqrt_()).mul_(scale).T
        return out


def adaneg_stream_scores(feats: Tensor,
                         text: Tensor,
                         num_id: int,
                         batch_size: int = 256,
                         logit_scale: float = 100.0,
                         ngroup: int = 5,
                         perm: Optional[Tensor] = None,
                         gamma: float = 0.5,
                         gap: float = 0.5,
                         lam: float = 0.1,
                         memleng: int = 10,
                         proxies: str = 'task',
                         beta: float = 5.0,
                         full_capacity: bool = False,
                         replacement: str = 'entropy',
                         score_before_update: bool = False,
                         memory: Optional[AdaNegMemory] = None) -> Dict[str, Union[Tensor, int]]:
    """Score a whole stream with AdaNeg.

    The rows of ``feats`` are taken in stream order (the caller shuffles) and processed in consecutive batches of
    ``batch_size`` with a fresh memory. Per batch ``X``: ``z = logit_scale * X T^T``,
    ``S_nl = neglabel_score(z[:, :K], z[:, K:], tau=1, ngroup, perm)``, the confident images are written to the
    memory (:meth:`AdaNegMemory.write`), then ``z'`` is computed on the proxies (``'task'``:
    ``logit_scale * X P^T``; ``'sample'``: :meth:`AdaNegMemory.sample_logits`), ``S_ada`` is the same grouped
    NegLabel score on ``z'``, and ``score = S_ada + lam * S_nl``.

    Args:
        feats (Tensor): ``(N, D)`` unit image embeddings in stream order.
        text (Tensor): ``(C, D)`` unit label embeddings, ID labels first.
        num_id (int): Number of ID labels ``K``.
        batch_size (int): Stream batch size. Defaults to 256.
        logit_scale (float): Logit scale ``s``. Defaults to 100.0.
        ngroup (int): NegLabel groups (``<= 1``: no grouping). Defaults to 5.
        perm (Tensor, optional): Grouped column order of the negatives; defaults to
            ``group_permutation(C - K, ngroup, seed=0)``, which is AdaNeg's for ``M = 10000``, ``ngroup = 5``.
        gamma (float): Write threshold ``gamma``. Defaults to 0.5.
        gap (float): Write gap ``g``. Defaults to 0.5.
        lam (float): Weight ``lambda`` of the static score. Defaults to 0.1.
        memleng (int): Slots per label ``L``. Defaults to 10.
        proxies (str): ``'task'`` or ``'sample'``. Defaults to ``'task'``.
        beta (float): Sharpness of the sample-adaptive weights. Defaults to 5.0.
        full_capacity (bool): Store ``L`` images per label instead of ``L - 1``. Defaults to False.
        replacement (str): ``'entropy'`` or ``'none'``. Defaults to ``'entropy'``.
        score_before_update (bool): Compute ``z'`` before the batch is written (ADA-5 option). Defaults to False.
        memory (AdaNegMemory, optional): A memory to reuse (it is reset first). Its text, ``num_id``, ``memleng``,
            ``full_capacity``, ``replacement`` and dtype must match the arguments. Defaults to None (a new one).

    Returns:
        dict: ``score``, ``s_nl``, ``s_ada`` (``(N,)`` each, float64 for float64 ``feats``, else float32, on the
        device of ``feats``), ``written`` and ``replaced`` (totals over the stream). Higher = more ID.

    Raises:
        ValueError: On malformed inputs or unknown options.
    """
    if not isinstance(feats, Tensor) or feats.ndim != 2 or not feats.is_floating_point():
        raise ValueError('feats must be a 2-D floating torch.Tensor of shape (N, D).')
    if not isinstance(text, Tensor) or text.ndim != 2 or text.shape[1] != feats.shape[1]:
        raise ValueError(f'text must be a tensor of shape (C, {feats.shape[1]}), got '
                         f'{tuple(text.shape) if isinstance(text, Tensor) else type(text).__name__}.')
    if proxies not in _PROXIES:
        raise ValueError(f'proxies must be one of {_PROXIES}, got {proxies!r}.')
    if replacement not in _REPLACEMENTS:
        raise ValueError(f'replacement must be one of {_REPLACEMENTS}, got {replacement!r}.')
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
    logit_scale = _finite(logit_scale, 'logit_scale')
    if logit_scale <= 0:
        raise ValueError(f'logit_scale must be > 0, got {logit_scale!r}.')
    lam = _finite(lam, 'lam')
    gamma = _finite(gamma, 'gamma')
    gap = _finite(gap, 'gap')
    beta = _check_beta(beta)
    dtype = _compute_dtype(feats.dtype)

    if memory is None:
        memory = AdaNegMemory(text.to(dtype), num_id, memleng=memleng, full_capacity=full_capacity,
                              replacement=replacement)
    else:
        if not isinstance(memory, AdaNegMemory):
            raise ValueError(f'memory must be an AdaNegMemory, got {type(memory).__name__}.')
        mismatch = [name for name, have, want in (('num_id', memory.num_id, int(num_id)),
                                                  ('memleng', memory.memleng, int(memleng)),
                                                  ('full_capacity', memory.full_capacity, bool(full_capacity)),
                                                  ('replacement', memory.replacement, replacement),
                                                  ('dtype', memory.dtype, dtype)) if have != want]
        if memory.text.shape != text.shape or not torch.equal(memory.text, text.to(memory.device, dtype)):
            mismatch.append('text')
        if mismatch:
            raise ValueError(f'memory does not match the arguments: {", ".join(mismatch)} differ.')
        memory.reset()
    num_id = memory.num_id
    num_neg = memory.num_labels - num_id
    if int(ngroup) > 1 and perm is None:
        perm = group_permutation(num_neg, ngroup, seed=0)
    label_t = memory.text.T

    def grouped(z: Tensor) -> Tensor:
        return neglabel_score(z[:, :num_id], z[:, num_id:], tau=1.0, ngroup=ngroup, perm=perm)

    def adapted(x: Tensor, z: Tensor) -> Tensor:
        if proxies == 'task':
            return memory.task_logits(x, scale=logit_scale, text_logits=z)
        return memory.sample_logits(x, beta=beta, scale=logit_scale, text_logits=z)

    parts: Dict[str, List[Tensor]] = dict(score=[], s_nl=[], s_ada=[])
    written = replaced = 0
    for start in range(0, feats.shape[0], batch_size):
        x = feats[start:start + batch_size].detach().to(device=memory.device, dtype=dtype)
        z = (x @ label_t).mul_(logit_scale)
        s_nl = grouped(z)
        z_ada = adapted(x, z) if score_before_update else None
        stats = memory.write(x, z, s_nl, gamma=gamma, gap=gap)
        written += stats['written']
        replaced += stats['replaced']
        if z_ada is None:
            z_ada = adapted(x, z)
        s_ada = grouped(z_ada)
        parts['score'].append(s_ada + lam * s_nl)
        parts['s_nl'].append(s_nl)
        parts['s_ada'].append(s_ada)
    out: Dict[str, Union[Tensor, int]] = {
        key: (torch.cat(val) if val else feats.new_zeros(0, dtype=dtype)).to(feats.device)
        for key, val in parts.items()
    }
    out['written'] = written
    out['replaced'] = replaced
    return out
