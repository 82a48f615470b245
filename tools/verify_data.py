"""Check every path a config reads: ``python tools/verify_data.py CONFIG [--cfg-options ...]``, or a benchmark's
default paths without a config: ``python tools/verify_data.py --benchmark imagenet_mos [--root data]``
(:func:`mmood.apis.verify_data`).

For the test data (each ID / OOD set) and every other dataset the config names (``train_dataloader``,
``val_dataloader``, ``id_train_dataloader``): the image count and every problem found -- missing roots, annotation
files, class folders, class folders out of the class names' order, ID images inside an OOD set, and (unless
``--no-decode``) every image that cannot be decoded, found by decoding all of them in parallel with a progress bar.
Image-caption training data (``ImageCaptionDataset``) also reports the samples dropped while indexing and damaged
tar shards, and decodes every image from its tar member's bytes.
The text inputs the model declares -- a word corpus or ready label files of its heads, the source files its model
options name -- are checked, with their entry counts and SHA-256.
The messages are the ones a run would stop with. ``--check-weights`` also checks the backbone weights (no
download). Exit status 1 when anything is wrong, so scripts can test readiness. ``--list-benchmarks`` prints the
benchmark table.
"""
import mmood  # noqa: F401  (first: compat shims)

import argparse
import os
import sys

from mmengine.config import DictAction

from mmood.apis import add_cache_argument, guarded, list_benchmarks, verify_data
from mmood.datasets import BENCHMARKS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Report image counts, missing paths and unreadable images of the '
                                     'data a config reads')
    parser.add_argument('config', nargs='?', help='config file (or --benchmark)')
    parser.add_argument('--benchmark', choices=sorted(BENCHMARKS), help='check a benchmark\'s default paths')
    parser.add_argument('--root', default='data', help='root of the benchmark paths (default data)')
    parser.add_argument('--list-benchmarks', action='store_true', help='print the benchmark table and exit')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    add_cache_argument(parser, 'shared cache (indexes of image-caption shards are built once and kept there, as '
                       'tools/train.py does; default: $MMOOD_CACHE or ~/.cache/mmood)')
    parser.add_argument('--max-problems', type=int, default=50, help='problems printed per set')
    parser.add_argument('--no-decode', action='store_true', help='only check that the files exist (fast)')
    parser.add_argument('--workers', type=int, default=min(8, os.cpu_count() or 1), help='decoding threads')
    parser.add_argument('--check-weights', action='store_true',
                        help='also check that the backbone weights are on disk (no download)')
    return parser.parse_args(argv)


@guarded
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list_benchmarks:
        return list_benchmarks()
    return verify_data(args.config, benchmark=args.benchmark, root=args.root, cfg_options=args.cfg_options,
                       cache_dir=args.cache_dir, max_problems=args.max_problems, decode=not args.no_decode,
                       workers=args.workers, weights=args.check_weights)


if __name__ == '__main__':
    sys.exit(main())
