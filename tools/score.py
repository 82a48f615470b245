"""Re-score cached features with any post-hoc OOD method: ``python tools/score.py CONFIG --methods ...``.

No image is decoded and the image encoder never runs: the features come from the cache written by
``tools/test.py CONFIG --save-features`` or ``tools/extract_features.py CONFIG`` (found from the config alone).
Zero-shot methods (``config``, ``msp``, ``maxlogit``, ``energy``, ``mcm``, ``glmcm``, ``neglabel``) need only
the text tower; ``knn`` / ``mahalanobis`` / ``rmd`` also need ID-train features (``--splits id_train``).

Prints one table (methods x OOD sets with near / far / all means and the zero-shot ID accuracy) and writes
``metrics.json``, ``per_sample_scores.csv``, ``report.md``, ``report.csv``, ``roc_<method>.png`` and
``score_hist_<method>.png`` into ``<work-dir>/score_<timestamp>/``. The ``config`` method scores with the
config's own head through the very function ``tools/test.py`` uses, so it reproduces that run's metrics.

Example::

    python tools/score.py configs/mcm_vitb16.py --methods config msp maxlogit energy knn mahalanobis \\
        --method-options knn.k=100 energy.temperature=1
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import csv
import json
import os
import os.path as osp
import sys
import time

from mmengine.config import DictAction
from mmengine.logging import MMLogger, print_log

from mmood.cache import CacheStore
from mmood.engine.hooks import model_report_notes
from mmood.evaluation.report import format_methods_table, write_report
from mmood.features import MissingFeaturesError, load_eval_split, load_train_set, model_identity
from mmood.features.runtime import build_model, load_config, resolve_device
from mmood.scorers import (ScorerContext, build_scorer, evaluate_scores, fit_scorers, list_scorers,
                           parse_method_options, required_kinds, score_split)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: re-score cached features with post-hoc OOD methods')
    parser.add_argument('config', help='config file (the same one the features were extracted / tested with)')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint the features were extracted with (optional; "none" = no checkpoint)')
    parser.add_argument('--methods', nargs='+', default=['config', 'msp', 'maxlogit', 'energy'],
                        help=f'scoring methods (default: config msp maxlogit energy); registered: {list_scorers()}')
    parser.add_argument('--method-options', nargs='+', default=[], metavar='METHOD.OPTION=VALUE',
                        help='scorer options, e.g. knn.k=100 energy.temperature=2 mahalanobis.relative=True')
    parser.add_argument('--cache-dir', help='feature cache (default: $MMOOD_CACHE or ~/.cache/mmood)')
    parser.add_argument('--work-dir', help='output directory (default ./work_dirs/<config>)')
    parser.add_argument('--batch-size', type=int,
                        help='rows per scoring batch (default: test_dataloader.batch_size, as tools/test.py)')
    parser.add_argument('--device', help='e.g. cpu, cuda:0 (default: CUDA when available)')
    parser.add_argument('--no-verify', action='store_true',
                        help='do not rescan image folders that still exist to check the stored manifests')
    parser.add_argument('--no-plots', action='store_true', help='skip the ROC / histogram PNGs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    return parser.parse_args(argv)


def _fpr_options(cfg):
    evaluators = cfg.get('test_evaluator') or {}
    for ev in (evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]):
        if str(ev.get('type', '')).endswith('OODMetric'):
            return ev.get('fpr_positive', 'id'), ev.get('fpr_rule', 'closest')
    return 'id', 'closest'


def run(args):
    cfg = load_config(args.config, args.cfg_options, args.cache_dir)
    stem = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join('./work_dirs', stem)
    log_dir = osp.join(work_dir, f'score_{time.strftime("%Y%m%d_%H%M%S")}')
    os.makedirs(log_dir, exist_ok=True)
    MMLogger.get_instance(f'mmood-score-{osp.basename(log_dir)}', log_file=osp.join(log_dir, 'score.log'))
    options = parse_method_options(args.method_options)
    methods = list(dict.fromkeys(args.methods))
    stray = sorted(set(options) - set(methods))
    if stray:
        raise SystemExit(f'--method-options for {stray}, which are not among --methods {methods}')
    checkpoint = args.checkpoint if args.checkpoint and args.checkpoint.lower() != 'none' else None
    device = resolve_device(args.device)

    model = build_model(cfg, checkpoint, device)
    ctx = ScorerContext.from_model(model, work_dir=log_dir)
    scorers = {name: build_scorer(name, options.get(name)).prepare(ctx) for name in methods}
    cache = CacheStore(cfg.cache_dir)
    model_id = model_identity(model, checkpoint)
    split = load_eval_split(cfg, model_id, cache, required_kinds(scorers), args.config, not args.no_verify)
    fitted = [name for name, s in scorers.items() if s.requires_fit]
    if fitted:
        fit_kinds = list(dict.fromkeys(k for n in fitted for k in scorers[n].feature_kinds))
        train = load_train_set(cfg, model_id, cache, fit_kinds, args.config, purpose=', '.join(fitted))
        fit_scorers({n: scorers[n] for n in fitted}, train.feats, train.labels, device)

    batch_size = args.batch_size or cfg.test_dataloader.get('batch_size', 256)
    scores, preds = score_split(scorers, split, ctx.id_text, ctx.logit_scale, batch_size, device)
    fpr_positive, fpr_rule = _fpr_options(cfg)
    metrics = evaluate_scores(scores, split.set_ids, split.set_names, split.set_groups, split.labels, preds,
                              fpr_positive, fpr_rule)

    table = format_methods_table(metrics, split.set_names, split.set_groups, fpr_positive, fpr_rule)
    print(table)
    with open(osp.join(log_dir, 'metrics.json'), 'w') as f:
        json.dump(dict(config=args.config, methods=methods, method_options=options, metrics=metrics), f, indent=1)
    with open(osp.join(log_dir, 'per_sample_scores.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['index', 'set', 'label', 'prediction'] + methods)
        for i in range(len(split)):
            writer.writerow([i, split.set_names[split.set_ids[i]], int(split.labels[i]), int(preds[i])] +
                            [repr(float(scores[m][i])) for m in methods])
    written = write_report(log_dir, {m: dict(scores=scores[m], metrics=metrics[m]) for m in methods},
                           split.set_ids, split.set_names, split.set_groups, fpr_positive, fpr_rule,
                           title=f'OOD detection report: {stem} (re-scored from cached features)',
                           notes=[f'config: {args.config}', f'feature cache: {cache.root}',
                                  f'method options: {options or "defaults"}'] + model_report_notes(model),
                           plots=not args.no_plots)
    print_log(f'Report: {written["md"]}', logger='current')
    print(f'Results: {log_dir}')
    return dict(metrics=metrics, scores=scores, preds=preds, log_dir=log_dir)


def main(argv=None):
    args = parse_args(argv)
    try:
        return run(args)
    except MissingFeaturesError as err:
        print(f'error: {err}', file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == '__main__':
    main()
