"""Offline OOD-detection demo: train a tiny CLIP on handwritten digits, then detect unseen digits and noise
(:func:`mmood.apis.demo`; docs/demo.md).

``python tools/demo.py [--work-dir work_dirs/demo] [--cache-dir DIR] [--retrain] [--zero-shot-only]``

Trains the tiny CLIP once (its weights cached in ``<cache-dir>/demo/``), evaluates the demo's zero-shot configs on
it, trains and evaluates the configs that learn a part of their own on top of it (``--zero-shot-only`` skips them),
and prints the metric tables. Everything runs offline.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from mmood.apis import add_cache_argument, demo, guarded
from mmood.apis.digits_demo import EVAL_CONFIGS, TRAIN_CONFIG, TRAINED_CONFIGS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood offline demo: tiny CLIP on handwritten digits')
    parser.add_argument('--work-dir', default='work_dirs/demo', help='logs and results (default work_dirs/demo)')
    add_cache_argument(parser, 'shared cache for the trained weights and text embeddings (default: $MMOOD_CACHE '
                       'or ~/.cache/mmood)')
    parser.add_argument('--train-config', default=TRAIN_CONFIG, help='training config of the tiny CLIP')
    parser.add_argument('--eval-configs', nargs='+', default=list(EVAL_CONFIGS),
                        help='zero-shot OOD configs to evaluate on its weights')
    parser.add_argument('--zero-shot-only', dest='trained', action='store_false',
                        help=f'skip the configs that train a part of their own on top of the tiny CLIP before their '
                        f'evaluation ({" ".join(TRAINED_CONFIGS)}; about 40 s more on 2 CPU cores)')
    parser.add_argument('--retrain', action='store_true', help='train again even if cached weights exist')
    parser.add_argument('--verbose', action='store_true', help='stream the training/testing logs')
    return parser.parse_args(argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    return demo(work_dir=args.work_dir, cache_dir=args.cache_dir, train_config=args.train_config,
                eval_configs=args.eval_configs, trained_configs=TRAINED_CONFIGS if args.trained else (),
                retrain=args.retrain, verbose=args.verbose)


if __name__ == '__main__':
    main()
