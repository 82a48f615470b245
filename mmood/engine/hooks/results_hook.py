"""``OODResultsHook``: a test run's files -- ``per_sample_results.csv``, the report, ``metrics.json``."""
import logging
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmpretrain.registry import HOOKS

from ...evaluation import write_results
from ...models import OODModel
from ..instances import release_runner_instances
from ..report_notes import run_notes
from .utils import ood_metrics_of, unwrap

__all__ = ['OODResultsHook']


@HOOKS.register_module()
class OODResultsHook(Hook):
    """After testing: ``per_sample_results.csv``, the OOD report and, last, ``metrics.json``, written by
    :func:`mmood.evaluation.write_results` (the one writer; ``tools/score.py`` calls it too) from the gathered
    samples of the evaluator's :class:`~mmood.evaluation.OODMetric` (main process; dataset order).

    Args:
        filename: per-sample CSV name inside the run's log directory.
        out_dir: directory to write to (default: the run's log directory).
        report: write the report files too.
        method_name: the run's name in the report title (default: the config file's stem).
    """
    priority = 'LOW'

    def __init__(self, filename: str = 'per_sample_results.csv', out_dir: Optional[str] = None,
                 report: bool = True, method_name: Optional[str] = None):
        self.filename = filename
        self.out_dir = out_dir
        self.report = report
        self.method_name = method_name
        self.path = None

    def after_test_epoch(self, runner, metrics=None) -> None:
        metric = next(iter(ood_metrics_of(runner.test_evaluator)), None)
        model = unwrap(runner.model)
        if metric is None or not is_main_process() or metric.results_table is None or \
                not isinstance(model, OODModel):
            return
        table, metric.results_table = metric.results_table, None
        meta = runner.test_dataloader.dataset.metainfo
        out_dir = self.out_dir or runner.log_dir
        config = runner.cfg.filename
        stem = self.method_name or (osp.splitext(osp.basename(config))[0] if config else 'run')
        written = write_results(out_dir, table, metrics or {}, list(meta['set_names']), list(meta['set_groups']),
                                metric.conventions, config, model.checkpoint_record,
                                title=f'OOD detection report: {stem}',
                                notes=run_notes(runner.log_dir, model, runner.cfg, table.primary_score, table.skipped),
                                report=self.report, filename=self.filename)
        self.path = written['csv']
        if 'md' in written:
            print_log(f'OOD report: {written["md"]}', logger='current', level=logging.INFO)
        print_log(f'Metrics: {written["metrics"]}; per-sample results: {self.path}', logger='current',
                  level=logging.INFO)

    def after_run(self, runner) -> None:
        """Release what the Runner registered globally: close its log file handlers and drop its logger, message
        hub and visualizer instances. A process running many evaluations (a notebook, a sweep, the test suite)
        would otherwise keep one open log file and their buffers per run."""
        release_runner_instances(runner)
