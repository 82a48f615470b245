"""``SetLevelScoresHook``: set-level scores computed from the gathered test stream before the metric runs."""
from typing import List, Optional, Tuple

import numpy as np
from mmengine.dist import collect_results, is_main_process
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ...models import OODModel
from .utils import ood_metrics_of, unwrap

__all__ = ['SetLevelScoresHook']


@HOOKS.register_module()
class SetLevelScoresHook(Hook):
    """Score the set-level heads of an :class:`~mmood.models.OODModel` (a score that depends on the other test
    samples, e.g. AdaNeg's memory) once the loop has seen every sample, before the metric computes anything.

    During the loop, every rank keeps the features the model's ``predict`` attached to each sample for its
    set-level heads (``set_level_feats``). After the last batch the samples of every rank are gathered on the main
    process, put in dataset order (sampler padding dropped, unreadable stand-ins left out as the metric leaves them
    out), scored by :meth:`OODModel.score_sets` -- one stream per (ID, OOD set) pair -- and handed to the
    evaluator's :class:`~mmood.evaluation.OODMetric` as data (:meth:`OODMetric.add_set_level_scores`). A model
    without set-level scores costs nothing.
    """
    priority = 'NORMAL'

    def __init__(self):
        self._kept: List[Optional[Tuple[int, int, dict]]] = []
        self._active = False
        self._last = -1
        self._evaluator = None

    def _start(self, runner, evaluator, dataloader) -> None:
        model = unwrap(runner.model)
        self._active = isinstance(model, OODModel) and bool(model.set_level_scores)
        self._kept, self._last, self._evaluator = [], len(dataloader) - 1, evaluator

    def before_test_epoch(self, runner) -> None:
        self._start(runner, runner.test_loop.evaluator, runner.test_dataloader)

    def before_val_epoch(self, runner) -> None:
        self._start(runner, runner.val_loop.evaluator, runner.val_dataloader)

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._keep(runner, batch_idx, outputs)

    def after_val_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._keep(runner, batch_idx, outputs)

    def _keep(self, runner, batch_idx: int, outputs) -> None:
        if not self._active:
            return
        for sample in outputs or []:
            if 'unreadable' in sample:
                self._kept.append(None)  # a stand-in: counted for the gather's order, never scored
                continue
            if 'set_level_feats' not in sample or 'sample_idx' not in sample:
                raise RuntimeError('Set-level scoring needs each sample\'s set_level_feats and sample_idx, which '
                                   'OODModel.predict attaches; got a data sample without them.')
            self._kept.append((int(sample.sample_idx), int(sample.set_id),
                               {k: v.numpy() for k, v in sample.set_level_feats.items()}))
        if batch_idx == self._last:
            self._score(runner)

    def _score(self, runner) -> None:
        import torch
        gathered = collect_results(self._kept, len(self._kept) * runner.world_size, device='cpu')
        self._kept = []
        if not is_main_process():
            return
        unique = {item[0]: item for item in gathered if item is not None}  # padding repeats a sample: once
        order = [unique[i] for i in sorted(unique)]
        idx = np.array([i for i, _, _ in order], dtype=np.int64)
        set_ids = np.array([s for _, s, _ in order])
        feats = {k: torch.from_numpy(np.stack([f[k] for _, _, f in order])) for k in order[0][2]}
        scores = unwrap(runner.model).score_sets(feats, set_ids)
        for metric in ood_metrics_of(self._evaluator):
            metric.add_set_level_scores(idx, scores)
