"""Re-scoring cached features (``tools/score.py``): the test run's scoring path and writer, without images.

:func:`score` builds the config's model with the heads of the named methods added
(:func:`mmood.engine.scoring.method_model_config`), reads the test sets' cached features (and, for heads fitted on
ID-train statistics, the cached ID-train features), scores them as the test run scores images
(:func:`mmood.engine.scoring.score_cached_split`) and writes the same files as ``tools/test.py``
(:func:`mmood.evaluation.write_results`): with ``methods=('config', )`` and the test batch size, ``metrics.json`` and
``per_sample_results.csv`` equal the test run's byte for byte. The methods' heads are added beside the config's
(whose scores are reported only when ``'config'`` is among the methods).
"""
import os
import os.path as osp
import time
from typing import Any, Dict, Mapping, Optional, Sequence

__all__ = ['score', 'metric_of_config']


def metric_of_config(cfg) -> Any:
    """The config's :class:`~mmood.evaluation.OODMetric` (built from ``test_evaluator``; a default one if the config
    has none): its conventions and primary-score setting are the test run's."""
    from mmpretrain.registry import METRICS

    from ..evaluation import OODMetric
    evaluators = cfg.get('test_evaluator') or []
    for ev in (evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]):
        metric = METRICS.build(dict(ev))
        if isinstance(metric, OODMetric):
            return metric
    return OODMetric()


def score(config: str, checkpoint: Optional[str] = None, methods: Sequence[str] = ('config', ),
          method_options: Optional[Mapping[str, Mapping[str, Any]]] = None, cache_dir: Optional[str] = None,
          work_dir: Optional[str] = None, batch_size: Optional[int] = None, device: Optional[str] = None,
          verify: bool = True, plots: bool = True, cfg_options: Optional[dict] = None,
          again_args: Sequence[str] = ()) -> Dict[str, Any]:
    """Re-score the cached features of ``config``'s test sets.

    Args:
        config: the config the features were extracted / tested with.
        checkpoint: the checkpoint they were extracted with (``'none'`` = none).
        methods: ``'config'`` (the config's heads) and/or method names or groups of
            :data:`~mmood.models.heads.METHODS` / :data:`~mmood.models.heads.METHOD_GROUPS`.
        method_options: method -> head options.
        cache_dir: the feature cache (default: the user's cache folder).
        work_dir: where ``score_<timestamp>/`` is written (default: the config's, else ``work_dirs/<config>``).
        batch_size: rows per scoring batch (default: ``test_dataloader.batch_size``, as the test run).
        device: e.g. ``'cpu'``, ``'cuda:0'`` (default: CUDA when available).
        verify: rescan image folders that still exist to check the stored manifests.
        plots: write the ROC / histogram PNGs.
        cfg_options: config overrides.
        again_args: extra arguments of the suggested commands when features are missing (``--cfg-options ...``).

    Returns:
        ``dict(metrics=..., table=ScoredSamples, log_dir=..., paths=...)``.
    """
    from mmengine.logging import MMLogger, print_log

    from ..cache import CacheStore
    from ..engine import run_notes
    from ..engine.fitting import fit_heads_cached
    from ..engine.scoring import method_model_config, reported_scores, score_cached_split
    from ..evaluation import evaluate_samples, summary_lines, write_results
    from ..features import load_eval_split, load_train_set, model_identity
    from ..features.runtime import build_model, resolve_device
    from ..models.heads import MethodError, expand_methods
    from ..utils.errors import ConfigError
    from .config import load_config
    cfg = load_config(config, cfg_options, cache_dir)
    options = {str(k): dict(v) for k, v in dict(method_options or {}).items()}
    names = expand_methods(methods)
    stray = sorted(set(options) - set(names))
    if stray:
        raise MethodError(f'--method-options for {stray}, which are not among --methods {names}')
    cfg.model = method_model_config(cfg.model, names, options)
    stem = osp.splitext(osp.basename(config))[0]
    work_dir = work_dir or cfg.get('work_dir') or osp.join('./work_dirs', stem)
    stamp = time.strftime('%Y%m%d_%H%M%S')
    log_dir = osp.join(work_dir, f'score_{stamp}')
    suffix = 1
    while osp.exists(log_dir):  # two runs in one second keep their own results
        suffix += 1
        log_dir = osp.join(work_dir, f'score_{stamp}_{suffix}')
    os.makedirs(log_dir)
    cfg.dump(osp.join(log_dir, 'config.py'))  # the run's config, the methods' heads included (merge_runs compares it)
    MMLogger.get_instance(f'mmood-score-{osp.basename(log_dir)}', log_file=osp.join(log_dir, 'score.log'))
    checkpoint = checkpoint if checkpoint and checkpoint.lower() != 'none' else None
    device = resolve_device(device)

    model = build_model(cfg, checkpoint, device)  # method_model_config renamed any method's clashing score names
    if model.scores_need_images:  # before looking for cached features: the clear reason first
        raise ConfigError(f'{type(model).__name__} scores images, not features (it needs the image tower and the '
                          f'input image): run tools/test.py {config}; cached features cannot be re-scored')
    model.prepare(work_dir=log_dir, checkpoint=checkpoint)
    cache = CacheStore(cfg.cache_dir)
    model_id = model_identity(model, checkpoint)
    again = f'{config} {checkpoint}' if checkpoint else config  # suggested commands: the same model
    extra = ['--cfg-options'] + list(again_args) if again_args else []
    split = load_eval_split(cfg, model_id, cache, model.feature_kinds, again, verify, extra_args=extra)
    heads = model.heads_to_fit()
    if heads:
        kinds = list(dict.fromkeys(k for h in heads for k in h.feature_kinds))
        train = load_train_set(cfg, model_id, cache, kinds, again, purpose=', '.join(type(h).__name__ for h in heads),
                               extra_args=extra)
        print_log(f'Fitting {", ".join(type(h).__name__ for h in heads)} on {train.num_samples} cached ID-train '
                  f'features, or loading their fitted statistics from the cache', logger='current')
        fit_heads_cached(model, train, cache, model_id, device)

    metric = metric_of_config(cfg)
    table = score_cached_split(model, split, batch_size or cfg.test_dataloader.get('batch_size', 256), device)
    reported = reported_scores(model, names)
    table.scores = {n: v for n, v in table.scores.items() if n in reported['names']}
    table.primary_score = metric.primary_score if metric.primary_score in table.scores else reported['primary_score']
    conventions, replicates = metric.conventions, reported['replicates']
    metrics = evaluate_samples(table, split.set_names, split.set_groups, conventions, replicates)
    print('\n'.join(summary_lines(metrics, table, split.set_names, conventions, replicates)))
    paths = write_results(log_dir, table, metrics, split.set_names, split.set_groups, conventions, cfg.filename,
                          model.checkpoint_record, title=f'OOD detection report: {stem}',
                          notes=run_notes(log_dir, model, cfg, table.primary_score, table.skipped), plots=plots)
    print_log(f'Report: {paths.get("md", "-")}; metrics: {paths["metrics"]}', logger='current')
    print(f'Results: {log_dir}')
    return dict(metrics=metrics, table=table, log_dir=log_dir, paths=paths)
