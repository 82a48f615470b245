"""Test (evaluate) a model: ``python tools/test.py CONFIG [CHECKPOINT] [options]``.

MMPretrain's CLI shape. The checkpoint is optional for zero-shot configs (``none`` also means no checkpoint).
What makes a run complete -- ``metrics.json``, ``per_sample_results.csv``, the report -- comes from the config's
hooks (``configs/_base_/default_runtime.py``), so MMPretrain's own ``tools/test.py`` gives the same run; this script
adds the command-line conveniences (cache folder, ``--save-features``, ``--out``).
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from cli_common import (add_common_arguments, apply_common_options, guarded, load_cli_config, parse_common,
                        run_runner)
from mmengine.config import Config


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
    cfg.custom_hooks = list(cfg.get('custom_hooks', []))
    if not any(str(h.get('type')).endswith('OODResultsHook') for h in cfg.custom_hooks):
        cfg.custom_hooks.append(dict(type='OODResultsHook'))  # a config without mmood's default runtime
    if args.save_features:
        cfg.custom_hooks.append(dict(type='SaveFeaturesHook', cache_dir=cfg.cache_dir, checkpoint=cfg.get('load_from'),
                                     made_by=f'tools/test.py --save-features {args.config}'))
    if args.out:
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        cfg.test_evaluator = list(evaluators) + [dict(type='DumpResults', out_file_path=args.out)]
    return cfg


@guarded
def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    return run_runner(cfg, 'test')[1]


if __name__ == '__main__':
    main()
