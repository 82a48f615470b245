"""Re-score cached features with any OOD method: ``python tools/score.py CONFIG [CHECKPOINT] --methods ...``.

No image is decoded and the image encoder never runs: the features come from the cache written by
``tools/test.py CONFIG --save-features`` or ``tools/extract_features.py CONFIG`` (found from the config alone).
Methods are the config's own heads (``config``: every named score of the run, exactly as ``tools/test.py``
computes them) and the short names of ``mmood.models.heads.METHODS`` -- ``msp``, ``maxlogit``, ``energy``,
``l1norm``, ``mcm``, ``glmcm``, ``neglabel`` need only the text tower; ``knn``, ``mahalanobis``, ``rmd`` also need
ID-train features (``tools/extract_features.py CONFIG --splits id_train``); ``plp_*`` and ``pseudo_msp`` read a
PLP config's trained probe.

Prints one table (methods x OOD sets with near / far / all means and the ID accuracy) and writes
``metrics.json``, ``per_sample_scores.csv``, ``report.md``, ``report.csv``, ``roc_<method>.png`` and
``score_hist_<method>.png`` into ``<work-dir>/score_<timestamp>/``. A method with several scores gives a result
per score (``config/msp``...) besides its primary one (``config``); ``config``'s metrics equal the test run's
``metrics.json`` key for key.

Example::

    python tools/score.py configs/mcm_vitb16.py --methods config knn mahalanobis --method-options knn.k=100
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import csv
import json
import os
import os.path as osp
import sys
import time

from cli_common import guarded, load_config, parse_method_options, raw_cfg_options
from mmengine.config import DictAction
from mmengine.logging import MMLogger, print_log

from mmood.cache import CacheStore
from mmood.engine import model_report_notes, pipeline_of
from mmood.engine.rescore import build_methods, evaluate_methods, fit_methods, required_kinds, score_split
from mmood.evaluation.report import format_methods_table, write_report
from mmood.features import load_eval_split, load_train_set, model_identity
from mmood.features.runtime import build_model, resolve_device
from mmood.models.heads import METHOD_GROUPS, MethodError, expand_methods, list_methods
from mmood.utils import atomic_open


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: re-score cached features with OOD methods')
    parser.add_argument('config', help='config file (the same one the features were extracted / tested with)')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint the features were extracted with (optional; "none" = no checkpoint)')
    parser.add_argument('--methods', nargs='+', default=['config'],
                        help=f'methods (default: config = every score of the config\'s heads); known: config '
                        f'{" ".join(list_methods())}; groups: '
                        f'{"; ".join(f"{k} = {chr(32).join(v)}" for k, v in METHOD_GROUPS.items())}')
    parser.add_argument('--method-options', nargs='+', default=[], metavar='METHOD.OPTION=VALUE',
                        help='head options, e.g. knn.k=100 energy.temperature=2 mahalanobis.relative=True')
    parser.add_argument('--cache-dir', help='feature cache (default: $MMOOD_CACHE or ~/.cache/mmood)')
    parser.add_argument('--work-dir', help='output directory (default ./work_dirs/<config>)')
    parser.add_argument('--batch-size', type=int,
                        help='rows per scoring batch (default: test_dataloader.batch_size, as tools/test.py)')
    parser.add_argument('--device', help='e.g. cpu, cuda:0 (default: CUDA when available)')
    parser.add_argument('--no-verify', action='store_true',
                        help='do not rescan image folders that still exist to check the stored manifests')
    parser.add_argument('--no-plots', action='store_true', help='skip the ROC / histogram PNGs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args(argv)
    args.cfg_options_raw = raw_cfg_options(sys.argv[1:] if argv is None else argv)
    return args


def _fpr_conventions(cfg):
    evaluators = cfg.get('test_evaluator') or {}
    for ev in (evaluators if isinstance(evaluators, (list, tuple)) else [evaluators]):
        if str(ev.get('type', '')).endswith('OODMetric'):
            pairs = [(ev.get('fpr_positive', 'id'), ev.get('fpr_rule', 'closest'))]
            return pairs + [tuple(p) for p in ev.get('extra_fpr', ())]
    return [('id', 'closest')]


def run(args):
    cfg = load_config(args.config, args.cfg_options, args.cache_dir)
    stem = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or cfg.get('work_dir') or osp.join('./work_dirs', stem)
    stamp = time.strftime('%Y%m%d_%H%M%S')
    log_dir = osp.join(work_dir, f'score_{stamp}')
    suffix = 1
    while osp.exists(log_dir):  # two runs in one second keep their own results
        suffix += 1
        log_dir = osp.join(work_dir, f'score_{stamp}_{suffix}')
    os.makedirs(log_dir)
    MMLogger.get_instance(f'mmood-score-{osp.basename(log_dir)}', log_file=osp.join(log_dir, 'score.log'))
    options = parse_method_options(args.method_options)
    names = expand_methods(args.methods)
    stray = sorted(set(options) - set(names))
    if stray:
        raise MethodError(f'--method-options for {stray}, which are not among --methods {names}')
    checkpoint = args.checkpoint if args.checkpoint and args.checkpoint.lower() != 'none' else None
    device = resolve_device(args.device)

    model = build_model(cfg, checkpoint, device)
    methods = build_methods(model, names, options, work_dir=log_dir)
    cache = CacheStore(cfg.cache_dir)
    model_id = model_identity(model, checkpoint)
    again = f'{args.config} {checkpoint}' if checkpoint else args.config  # suggested commands: the same model
    extra = ['--cfg-options'] + args.cfg_options_raw if args.cfg_options_raw else []
    split = load_eval_split(cfg, model_id, cache, required_kinds(methods, model), again, not args.no_verify,
                            extra_args=extra)
    fitted = [n for n, m in methods.items() if any(h.requires_fit for h in m.heads)]
    if fitted:
        fit_kinds = list(dict.fromkeys(k for n in fitted for h in methods[n].heads if h.requires_fit
                                       for k in h.feature_kinds))
        train = load_train_set(cfg, model_id, cache, fit_kinds, again, purpose=', '.join(fitted), extra_args=extra)
        fit_methods(methods, train.feats, train.labels, device)

    batch_size = args.batch_size or cfg.test_dataloader.get('batch_size', 256)
    scores, preds = score_split(methods, model, split, batch_size, device)
    conventions = _fpr_conventions(cfg)
    fpr_positive, fpr_rule = conventions[0]
    metrics, tables, flat = evaluate_methods(methods, scores, split, preds, conventions)
    shown = [n for m in methods.values() for n in m.report_names()]  # primary scores, then the others

    table = format_methods_table({n: tables[n] for n in shown}, split.set_names, split.set_groups,
                                 fpr_positive, fpr_rule)
    print(table)
    with atomic_open(osp.join(log_dir, 'metrics.json'), 'w') as f:
        json.dump(dict(config=args.config, checkpoint=checkpoint, methods=names, method_options=options,
                       set_names=list(split.set_names), set_groups=list(split.set_groups),
                       fpr=[list(c) for c in conventions], metrics=metrics), f, indent=1)
    with atomic_open(osp.join(log_dir, 'per_sample_scores.csv'), 'w', newline='') as f:
        writer = csv.writer(f)
        columns = [n for n in flat if flat[n].ndim == 1]
        writer.writerow(['index', 'set', 'label', 'prediction'] + columns)
        for i in range(len(split)):
            writer.writerow([i, split.set_names[split.set_ids[i]], int(split.labels[i]), int(preds[i])] +
                            [repr(float(flat[m][i])) for m in columns])
    written = write_report(log_dir, {n: dict(scores=flat[n], metrics=tables[n]) for n in shown},
                           split.set_ids, split.set_names, split.set_groups, fpr_positive, fpr_rule,
                           title=f'OOD detection report: {stem} (re-scored from cached features)',
                           notes=[f'config: {args.config}', f'feature cache: {cache.root}',
                                  f'preprocessing (every method scores these features): {pipeline_of(cfg)}',
                                  f'method options: {options or "defaults"}'] + model_report_notes(model),
                           plots=not args.no_plots)
    print_log(f'Report: {written["md"]}', logger='current')
    print(f'Results: {log_dir}')
    return dict(metrics=metrics, scores=flat, preds=preds, log_dir=log_dir)


@guarded
def main(argv=None):
    """A missing cache entry, an unknown method or option, a wrong checkpoint: one line, exit status 2."""
    return run(parse_args(argv))


if __name__ == '__main__':
    main()
