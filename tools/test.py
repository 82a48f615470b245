"""Test (evaluate) a model: ``python tools/test.py CONFIG [CHECKPOINT] [options]`` -- calls :func:`mmood.apis.test`.

MMPretrain's CLI shape. The checkpoint is optional for zero-shot configs (``none`` also means no checkpoint).
What makes a run complete -- ``metrics.json``, ``per_sample_results.csv``, the report -- comes from the config's
hooks (``configs/_base_/default_runtime.py``), so MMPretrain's own ``tools/test.py`` gives the same run; this script
adds the command-line conveniences (cache folder, ``--save-features``, ``--out``).
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from mmood.apis import test
from mmood.apis.cli import add_common_arguments, guarded, parse_common


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


@guarded
def main(argv=None):
    args = parse_args(argv)
    return test(args.config, args.checkpoint, work_dir=args.work_dir, cache_dir=args.cache_dir,
                cfg_options=args.cfg_options, launcher=args.launcher, save_features=args.save_features, out=args.out)


if __name__ == '__main__':
    main()
