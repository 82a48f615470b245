"""Test (evaluate) a model: ``python tools/test.py CONFIG [CHECKPOINT] [options]``.

MMPretrain's CLI shape. The checkpoint is optional for zero-shot configs (``none`` also means no checkpoint).
Besides the metrics, every run writes ``per_sample_results.csv`` (one row per image) to its log directory.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import json
import os.path as osp

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmood.cache import default_cache_dir
from mmood.tools_common import (add_common_arguments, apply_common_options, load_cli_config,
                                parse_common)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: evaluate OOD detection')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint file (optional for zero-shot configs; "none" = no checkpoint)')
    parser.add_argument('--work-dir', help='directory for logs and results (default ./work_dirs/<config>)')
    parser.add_argument('--out', help='also dump the raw predictions to this pickle file')
    parser.add_argument('--save-features', action='store_true',
                        help='also write the image features this run computes to the feature cache, so '
                        'tools/score.py can re-score any post-hoc method without images')
    add_common_arguments(parser)
    return parse_common(parser, argv)


def build_config(args) -> Config:
    cfg = load_cli_config(args)
    if args.checkpoint and args.checkpoint.lower() != 'none':
        cfg.load_from = args.checkpoint
    apply_common_options(cfg, cache_dir=args.cache_dir)
    method_name = osp.splitext(osp.basename(args.config))[0]
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [dict(type='OODResultsHook', method_name=method_name)]
    if args.save_features:
        cache_dir = args.cache_dir or cfg.model.get('cache_dir') or default_cache_dir()
        cfg.custom_hooks.append(dict(type='SaveFeaturesHook', cache_dir=cache_dir, checkpoint=cfg.get('load_from'),
                                     made_by=f'tools/test.py --save-features {args.config}'))
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = list(evaluators) + [dict(type='DumpResults', out_file_path=args.out)]
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if is_main_process():
        path = osp.join(runner.log_dir, 'metrics.json')
        with open(path, 'w') as f:
            json.dump(dict(config=args.config, metrics=metrics), f, indent=1)
        print_log(f'Metrics: {path}', logger='current')
    return metrics


if __name__ == '__main__':
    main()
