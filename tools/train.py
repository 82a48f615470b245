"""Train a model: ``python tools/train.py CONFIG [options]`` (MMPretrain's CLI shape; :func:`mmood.apis.train`)."""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from mmood.apis import add_common_arguments, guarded, parse_common, train


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: train a model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='directory for logs and checkpoints (default ./work_dirs/<config>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from this checkpoint, or from the latest one in the work dir')
    add_common_arguments(parser)
    return parse_common(parser, argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    return train(args.config, work_dir=args.work_dir, resume=args.resume, cache_dir=args.cache_dir,
                 cfg_options=args.cfg_options, launcher=args.launcher)


if __name__ == '__main__':
    main()
