"""Hooks: prepare text-side state before a loop; write per-sample results after testing."""
import csv
import logging
import os
import os.path as osp
from typing import Optional

from mmengine.dist import collect_results, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

RESULT_COLUMNS = ('index', 'set', 'group', 'is_ood', 'label', 'prediction', 'ood_score', 'path')


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def model_report_notes(model) -> list:
    """Lines a model wants in every report header (e.g. PLP: classes without pseudo-labels)."""
    notes = getattr(model, 'report_notes', None)
    return list(notes()) if callable(notes) else []


@HOOKS.register_module()
class OODPrepareHook(Hook):
    """Call ``model.prepare(work_dir=...)`` before validation/testing (and training), on every rank.

    This is where ID prototypes are encoded and NegLabel negatives are mined (once, on rank 0, cached and
    broadcast); the mined words land in the run's log directory.
    """
    priority = 'VERY_HIGH'

    def _prepare(self, runner) -> None:
        model = _unwrap(runner.model)
        if hasattr(model, 'prepare'):
            model.prepare(work_dir=runner.log_dir, checkpoint=runner.cfg.get('load_from'))

    def before_test(self, runner) -> None:
        self._prepare(runner)

    def before_val(self, runner) -> None:
        self._prepare(runner)

    def before_train(self, runner) -> None:
        self._prepare(runner)


@HOOKS.register_module()
class OODResultsHook(Hook):
    """Write one CSV row per test image: set, group, is_ood, label, prediction, ood_score, path.

    Added by ``tools/test.py`` (not by the metric), so any run can be re-evaluated without re-running the model.
    Rows are gathered across ranks (sampler padding dropped) and written by rank 0 in dataset order.

    With ``report=True`` it also writes the run's OOD report next to the CSV (``report.md``, ``report.csv``,
    ``roc_<method>.png``, ``score_hist_<method>.png``; see :mod:`mmood.evaluation.report`).

    Args:
        filename: output file name inside the run's log directory.
        out_dir: directory to write to (default: the run's log directory).
        report: write the report files too.
        method_name: the method's name in the report (default: the model head's class name).
    """
    priority = 'LOW'

    def __init__(self, filename: str = 'per_sample_results.csv', out_dir: Optional[str] = None,
                 report: bool = True, method_name: Optional[str] = None):
        self.filename = filename
        self.out_dir = out_dir
        self.report = report
        self.method_name = method_name
        self.rows = []
        self.path = None

    def before_test_epoch(self, runner) -> None:
        self.rows = []

    def after_test_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        for s in outputs or []:
            self.rows.append((int(s.sample_idx), int(s.set_id), int(s.is_ood),
                              int(s.gt_label[0]) if 'gt_label' in s else -1, int(s.pred_label[0]),
                              float(s.ood_score), s.img_path))

    def after_test_epoch(self, runner, metrics=None) -> None:
        dataset = runner.test_dataloader.dataset
        rows = collect_results(self.rows, len(dataset), device='cpu')
        self.rows = []
        if not is_main_process():
            return
        rows = sorted(rows, key=lambda r: r[0])
        names = dataset.metainfo['set_names']
        groups = dataset.metainfo['set_groups']
        out_dir = self.out_dir or runner.log_dir
        os.makedirs(out_dir, exist_ok=True)
        self.path = osp.join(out_dir, self.filename)
        with open(self.path, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(RESULT_COLUMNS)
            for idx, sid, is_ood, label, pred, score, path in rows:
                writer.writerow((idx, names[sid], groups[sid], is_ood, label, pred, repr(score), path))
        print_log(f'Per-sample results: {self.path}', logger='current', level=logging.INFO)
        if self.report and metrics:
            self._write_report(runner, rows, names, groups, metrics, out_dir)

    def _write_report(self, runner, rows, names, groups, metrics, out_dir) -> None:
        from ...evaluation.report import write_report
        ood_metric = next((m for m in getattr(runner.test_evaluator, 'metrics', []) if hasattr(m, 'fpr_rule')),
                          None)
        if ood_metric is None:
            return
        model = _unwrap(runner.model)
        name = self.method_name or type(getattr(model, 'head', model)).__name__
        written = write_report(out_dir, {name: dict(scores=[r[5] for r in rows], metrics=metrics)},
                               [r[1] for r in rows], names, groups, ood_metric.fpr_positive, ood_metric.fpr_rule,
                               title=f'OOD detection report: {name}',
                               notes=[f'run: {runner.log_dir}'] + model_report_notes(model))
        print_log(f'OOD report: {written["md"]}', logger='current', level=logging.INFO)
