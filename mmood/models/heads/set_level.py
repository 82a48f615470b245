"""Scoring whole (ID set, OOD set) pairs with set-level heads (e.g. AdaNeg's test-time memory).

A head with ``set_level = True`` scores a *stream* of samples at once, so an ID image may get a different score in
each pair. :func:`score_pairs` defines the pairs and the stream: for every OOD set ``i``, the ID test samples
followed by the samples of OOD set ``i``, both in dataset order (``head.stream_seed = None``), or that stream
shuffled by a seeded CPU permutation (``head.stream_seed = s``). Both scoring paths call it
through :meth:`OODModel.score_sets`, on the main process: ``tools/test.py`` (through
:class:`~mmood.engine.SetLevelScoresHook`, on the features the test loop gathered, before the metric sees the results)
and ``tools/score.py`` (on cached features).

The result per score name is a ``(num_ood_sets, N)`` array: row ``i - 1`` holds the scores of pair ``i`` at the
positions of its samples and NaN elsewhere. :meth:`OODMetric.calculate`, the per-sample CSV and the report take
such arrays wherever they take ``(N,)`` scores.
"""
from typing import Dict, Mapping

import numpy as np
import torch

__all__ = ['score_pairs', 'pair_stream', 'seeded_order']


def seeded_order(num: int, seed: int) -> torch.Tensor:
    """The one shuffled stream order of set-level scoring: ``torch.randperm(num)`` from a CPU generator seeded
    ``seed`` (the same on every machine and process count). :func:`pair_stream` shuffles a pair with it; a head that
    streams one pair several times (AdaNeg's ``stream_seeds``) draws each order with it."""
    return torch.randperm(int(num), generator=torch.Generator(device='cpu').manual_seed(int(seed)))


def pair_stream(set_ids: np.ndarray, ood_set_id: int, seed=None) -> np.ndarray:
    """Dataset indices of the stream of pair (ID, OOD set ``ood_set_id``), in scoring order."""
    set_ids = np.asarray(set_ids)
    members = np.concatenate([np.flatnonzero(set_ids == 0), np.flatnonzero(set_ids == ood_set_id)])
    if seed is not None:
        members = members[seeded_order(members.size, seed).numpy()]
    return members


def score_pairs(head, feats: Mapping[str, torch.Tensor], set_ids: np.ndarray, device=None
                ) -> Dict[str, np.ndarray]:
    """Run a set-level head once per (ID, OOD set) pair.

    Args:
        head: a prepared (and fitted) head with ``set_level = True``.
        feats: kind -> (N, ...) features of every test sample, in dataset order.
        set_ids: (N,) set id per sample (0 = ID).
        device: where the head runs (default: the features' device).

    Returns:
        ``{name: (num_ood_sets, N) float64 array}``, NaN outside each pair.
    """
    set_ids = np.asarray(set_ids)
    num = int(set_ids.shape[0])
    num_pairs = int(set_ids.max()) if num else 0
    out = {name: np.full((num_pairs, num), np.nan) for name in head.score_names}
    for sid in range(1, num_pairs + 1):
        stream = pair_stream(set_ids, sid, head.stream_seed)
        index = torch.from_numpy(stream)
        batch = {k: torch.as_tensor(v)[index].to(device or torch.as_tensor(v).device) for k, v in feats.items()}
        with torch.no_grad():
            scores = head(batch)
        for name in head.score_names:
            out[name][sid - 1, stream] = scores[name].detach().double().cpu().numpy().reshape(-1)
    return out
