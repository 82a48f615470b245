"""Hooks of every mmood config (``configs/_base_/default_runtime.py``), so any script that runs a config --
``tools/test.py``, MMPretrain's ``tools/test.py`` (``mim test``) -- gets the same run:

* :class:`OODPrepareHook` -- before testing: text side (ID prototypes, NegLabel negatives), fitted heads (KNN /
  Mahalanobis on the cached ID-train features, extracted once when missing), and the metric bound to the model's
  set-level heads;
* :class:`OODResultsHook` -- after testing: ``per_sample_results.csv``, the report (``report.md``, ``report.csv``,
  ROC and histogram PNGs, one row block per named score) and, last, ``metrics.json`` -- each written atomically, so
  a killed run leaves no file that looks finished.
"""
import csv
import json
import logging
import os
import os.path as osp
from typing import Any, Dict, List, Optional

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from ...utils.errors import ConfigError
from ...utils.io import atomic_open
from .threads_hook import IntraOpThreadsHook

__all__ = ['OODPrepareHook', 'OODResultsHook', 'DatasetEpochHook', 'IntraOpThreadsHook', 'model_report_notes',
           'pipeline_of',
           'ood_metric_of', 'fit_heads_from_cache', 'release_runner_instances', 'release_instances',
           'RESULT_COLUMNS', 'checkpoint_note']

RESULT_COLUMNS = ('index', 'set', 'group', 'is_ood', 'label', 'prediction', 'ood_score', 'path')


def _unwrap(model):
    return model.module if is_model_wrapper(model) else model


def model_report_notes(model) -> list:
    """Lines a model wants in every report header (e.g. PLP: classes without pseudo-labels)."""
    notes = getattr(model, 'report_notes', None)
    return list(notes()) if callable(notes) else []


def pipeline_of(cfg) -> str:
    """:func:`~mmood.datasets.describe_pipeline` of a config's test pipeline."""
    from ...datasets.transforms import describe_pipeline
    dataset = ((cfg or {}).get('test_dataloader') or {}).get('dataset') or {}
    return describe_pipeline(dataset.get('pipeline'))


def checkpoint_note(record: Optional[Dict[str, Any]]) -> str:
    """The report line on the checkpoint a run loaded (or that it loaded none)."""
    if not record:
        return 'checkpoint: none (the open_clip weights of the config)'
    groups = ', '.join(f'{k} ({v})' for k, v in record['loaded'].get('groups', {}).items())
    return (f'checkpoint: {record["path"]} ({record["bytes"]:,} bytes, sha256 {record["sha256"][:16]}...; loaded '
            f'{record["loaded"].get("keys", 0)} keys: {groups})')


def skipped_note(skipped: List[Dict[str, str]]) -> List[str]:
    """Report lines on unreadable images left out of the metrics (``skip_unreadable=True``)."""
    if not skipped:
        return []
    shown = '; '.join(f'{s["path"]} ({s["set"]})' for s in skipped[:5])
    more = ' ...' if len(skipped) > 5 else ''
    return [f'{len(skipped)} unreadable images left out of the metrics: {shown}{more}']


def release_runner_instances(runner) -> None:
    """Close the file handlers of ``runner``'s logger and remove the manager instances (logger, message hub,
    visualizer) registered under its experiment name."""
    visualizer = getattr(runner, 'visualizer', None)
    for backend in getattr(visualizer, '_vis_backends', {}).values():
        close = getattr(backend, 'close', None)
        if callable(close):
            close()
    release_instances([getattr(runner, 'experiment_name', None)])


def release_instances(names) -> None:
    """Close the log files of the mmengine loggers named ``names`` and drop their logger, message hub and visualizer
    instances (what a Runner registers under its experiment name; also after a Runner failed half-built)."""
    from mmengine.logging import MessageHub, MMLogger
    from mmengine.visualization import Visualizer
    for name in names:
        logger = MMLogger._instance_dict.get(name)
        for handler in list(getattr(logger, 'handlers', [])):
            if isinstance(handler, logging.FileHandler):
                handler.close()
                logger.removeHandler(handler)
        for manager in (MMLogger, MessageHub, Visualizer):
            manager._instance_dict.pop(name, None)


def ood_metric_of(evaluator) -> Optional[Any]:
    """The :class:`~mmood.evaluation.OODMetric` of an evaluator, or None."""
    return next((m for m in getattr(evaluator, 'metrics', None) or [] if hasattr(m, 'results_table')), None)


def fit_heads_from_cache(model, cfg, checkpoint: Optional[str] = None, config_path: Optional[str] = None) -> None:
    """Fit the model's heads that need ID-train statistics on the cached features of ``cfg.id_train_dataloader``.

    Missing features are extracted first (once, into the feature cache; progress bar; every rank takes part) with
    the model's frozen tower. Every rank then reads the cache and fits (deterministic), so no broadcast is needed.

    Raises:
        ValueError: no ``id_train_dataloader`` in the config, or no cache directory.
    """
    heads = model.heads_to_fit()
    if not heads:
        return
    import torch

    from ...cache import CacheStore
    from ...features import find_set_features, model_identity, train_set_source
    from ..loops import ensure_features
    names = ', '.join(type(h).__name__ for h in heads)
    if cfg.get('id_train_dataloader') is None:
        raise ConfigError(f'{names} fits ID-train statistics, but the config has no `id_train_dataloader`: add a '
                          f"labelled dataset of ID training images with the test pipeline, e.g. id_train_dataloader"
                          f" = dict(batch_size=256, num_workers=8, dataset=dict(type='CustomDataset', "
                          f"data_root='data/imagenet/train', pipeline=test_pipeline))")
    if not getattr(model, 'cache_dir', None):
        raise ConfigError(f'{names} reads the ID-train features from the feature cache: set `model.cache_dir` (the '
                          f'tools fill it in from --cache-dir, or give it in the config).')
    kinds = tuple(dict.fromkeys(k for h in heads for k in h.feature_kinds))
    loader = cfg.id_train_dataloader
    cache = CacheStore(model.cache_dir)
    if not getattr(model, 'checkpoint_changes_features', True):
        checkpoint = None
    model_id = model_identity(model, checkpoint)
    source = train_set_source(loader.dataset)
    made_by = f'ID-train features for {names} ({osp.basename(config_path or "config")})'
    ensure_features(model, dict(loader.dataset), [source], kinds, cache, model_id, loader.get('batch_size', 64),
                    loader.get('num_workers', 0), dict(made_by=made_by))
    cset = find_set_features(cache, model_id, source, kinds)
    device = model.id_text.device
    feats = {k: torch.from_numpy(np.array(cset.feats[k], dtype=np.float32)).to(device) for k in kinds}
    print_log(f'Fitting {names} on {cset.num_samples} cached ID-train features ({", ".join(kinds)}).',
              logger='current', level=logging.INFO)
    model.fit_heads(feats, torch.from_numpy(np.array(cset.labels, dtype=np.int64)).to(device))


@HOOKS.register_module()
class DatasetEpochHook(Hook):
    """Tell the training dataset the epoch before each one (``dataset.set_epoch``, when it has it), so per-epoch
    random choices are a function of (sample, epoch): equal under any number of processes and after a resume."""
    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        dataset = getattr(runner.train_dataloader, 'dataset', None)
        if hasattr(dataset, 'set_epoch'):
            dataset.set_epoch(runner.epoch)


@HOOKS.register_module()
class OODPrepareHook(Hook):
    """Prepare the model before validation/testing (and training), on every rank.

    * ``model.prepare(work_dir=...)``: ID prototypes are encoded and NegLabel negatives mined (once, on rank 0,
      cached and broadcast); the mined words land in the run's log directory;
    * heads fitted on ID-train features (``KNNHead``, ``MahalanobisHead`` as a config head) get them from the
      feature cache (:func:`fit_heads_from_cache`);
    * the evaluator's :class:`~mmood.evaluation.OODMetric` is bound to the model (primary score, set-level heads);
    * a checkpoint the Runner loads (``load_from``, ``tools/test.py CONFIG CHECKPOINT``, resume) must belong to the
      model: every key maps onto it with its shape, and what the method trains is there
      (:func:`mmood.utils.check_checkpoint`), else the run stops with the keys and the fix.
    """
    priority = 'VERY_HIGH'

    def _prepare(self, runner, evaluator=None) -> None:
        model = _unwrap(runner.model)
        if not hasattr(model, 'prepare'):
            return
        checkpoint = runner.cfg.get('load_from')
        model.prepare(work_dir=runner.log_dir, checkpoint=checkpoint)
        if evaluator is None:
            return
        dataset = getattr(evaluator, 'dataset_meta', None) or {}
        if hasattr(model, 'check_dataset_classes'):
            model.check_dataset_classes(dataset.get('classes'), 'the test data')
        if hasattr(model, 'heads_to_fit'):
            fit_heads_from_cache(model, runner.cfg, checkpoint, runner.cfg.filename)
        metric = ood_metric_of(evaluator)
        if metric is not None:
            metric.bind_model(model)

    def after_load_checkpoint(self, runner, checkpoint) -> None:
        """Refuse a checkpoint that does not belong to the model before mmengine loads it (non-strictly), and
        record what it loads (``metrics.json``, report)."""
        from ...utils import check_checkpoint, checkpoint_record
        model = _unwrap(runner.model)
        path = runner.cfg.get('load_from')
        loaded = check_checkpoint(model, checkpoint, path)
        if path and osp.isfile(path) and loaded['keys']:
            model.checkpoint_record = checkpoint_record(path, loaded)

    def before_test(self, runner) -> None:
        self._prepare(runner, runner.test_loop.evaluator)

    def before_val(self, runner) -> None:
        self._prepare(runner, runner.val_loop.evaluator)

    def before_train(self, runner) -> None:
        if getattr(_unwrap(runner.model), 'prepare_before_train', True):  # not a model whose text state trains
            self._prepare(runner)


def _score_columns(table: Dict[str, Any], set_names) -> List[tuple]:
    """(column name, values per row) of every named score: ``score_<name>``, or ``score_<name>@<OOD set>`` for
    the pairs of a set-level score (empty where a row is not in the pair)."""
    columns = []
    for name, values in table['scores'].items():
        values = np.asarray(values)
        if values.ndim == 1:
            columns.append((f'score_{name}', values))
        else:
            columns += [(f'score_{name}@{set_names[sid]}', values[sid - 1]) for sid in range(1, len(set_names))]
    return columns


def _cell(value: float) -> str:
    return '' if value != value else repr(float(value))


@HOOKS.register_module()
class OODResultsHook(Hook):
    """After testing: ``metrics.json``, ``per_sample_results.csv`` and the OOD report, from the gathered results of
    the evaluator's :class:`~mmood.evaluation.OODMetric` (rank 0; dataset order).

    ``per_sample_results.csv`` has one row per test image -- ``index, set, group, is_ood, label, prediction,
    ood_score`` (the primary score), ``path`` -- and a ``score_<name>`` column per named score (set-level scores:
    one ``score_<name>@<OOD set>`` column per pair). The report has one row block per named score.

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
        metric = ood_metric_of(runner.test_evaluator)
        if metric is None or not is_main_process() or metric.results_table is None:
            return
        table, metric.results_table = metric.results_table, None
        dataset = runner.test_dataloader.dataset
        names = list(dataset.metainfo['set_names'])
        groups = list(dataset.metainfo['set_groups'])
        out_dir = self.out_dir or runner.log_dir
        os.makedirs(out_dir, exist_ok=True)
        config = runner.cfg.filename
        stem = self.method_name or (osp.splitext(osp.basename(config))[0] if config else 'run')
        model = _unwrap(runner.model)
        record = getattr(model, 'checkpoint_record', None)
        self.path = osp.join(out_dir, self.filename)
        primary = np.asarray(table['scores'][table['primary']])
        columns = _score_columns(table, names)
        with atomic_open(self.path, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(RESULT_COLUMNS + tuple(c for c, _ in columns))
            for row in range(len(table['set_ids'])):
                sid = int(table['set_ids'][row])
                writer.writerow([int(table['idx'][row]), names[sid], groups[sid], int(sid > 0),
                                 int(table['labels'][row]), int(table['preds'][row]),
                                 _cell(primary[row]) if primary.ndim == 1 else '', table['paths'][row]] +
                                [_cell(values[row]) for _, values in columns])
        if self.report and metrics:
            self._write_report(runner, table, names, groups, metrics, metric, out_dir, stem)
        # last: a metrics.json means every file of the run is complete (each is written atomically)
        with atomic_open(osp.join(out_dir, 'metrics.json'), 'w') as f:
            json.dump(dict(config=config, checkpoint=record, primary_score=table['primary'],
                           score_names=list(table['scores']), set_names=names, set_groups=groups,
                           fpr=[list(c) for c in metric.conventions],
                           skipped_images=dict(count=len(table['skipped']), images=table['skipped']),
                           metrics=metrics or {}), f, indent=1)
        print_log(f'Metrics: {osp.join(out_dir, "metrics.json")}; per-sample results: {self.path}',
                  logger='current', level=logging.INFO)

    def after_run(self, runner) -> None:
        """Release what the Runner registered globally: close its log file handlers and drop its logger, message
        hub and visualizer instances. A process running many evaluations (a notebook, a sweep, the test suite)
        would otherwise keep one open log file and their buffers per run."""
        release_runner_instances(runner)

    def _write_report(self, runner, table, names, groups, metrics, metric, out_dir, stem) -> None:
        from ...evaluation import metrics_of, write_report
        model = _unwrap(runner.model)
        results = {name: dict(scores=table['scores'][name], metrics=metrics_of(metrics, name))
                   for name in table['scores']}
        written = write_report(out_dir, results, table['set_ids'], names, groups, metric.fpr_positive,
                               metric.fpr_rule, title=f'OOD detection report: {stem}',
                               notes=[f'run: {runner.log_dir}', f'primary score: {table["primary"]}',
                                      checkpoint_note(getattr(model, 'checkpoint_record', None)),
                                      f'preprocessing: {pipeline_of(runner.cfg)}'] +
                               skipped_note(table['skipped']) + model_report_notes(model))
        print_log(f'OOD report: {written["md"]}', logger='current', level=logging.INFO)
