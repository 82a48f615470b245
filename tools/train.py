"""Train a model: ``python tools/train.py CONFIG [options]`` (MMPretrain's CLI shape)."""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from cli_common import (add_common_arguments, apply_common_options, guarded, load_cli_config, parse_common,
                        run_runner)
from mmengine.config import Config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: train a model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints (default ./work_dirs/<config>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or from the latest one in the work dir')
    add_common_arguments(parser)
    return parse_common(parser, argv)


def build_config(args) -> Config:
    cfg = load_cli_config(args)
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    apply_common_options(cfg, cache_dir=args.cache_dir)
    return cfg


@guarded
def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    return run_runner(cfg, 'train')[0]


if __name__ == '__main__':
    main()
