"""Merge several runs into mean ± std: ``python tools/merge_runs.py RUN [RUN ...] --out DIR``
(:func:`mmood.apis.merge_runs`).

Each RUN is a ``metrics.json`` file or a directory holding one (a ``tools/test.py`` log directory, a ``tools/score.py``
``score_*`` directory). Use it for training seeds or for the several published checkpoints of one method: the runs
must report the same keys (one benchmark, one config). Writes ``DIR/metrics.json`` (``mean``, ``std``, ``num_runs``,
the runs), ``DIR/report.md`` and ``DIR/report.csv`` (one row per score and OOD set / mean: ``mean ± std``, sample
std).

The runs must have run one config: each run's dumped config (``vis_data/config.py`` in a test run's log directory) is
compared with the seeds, weights files (the checkpoint), work dir, cache folders, launcher and environment left out
(:mod:`mmood.apis.merge` lists them). Runs of different configs -- or without a dumped config, such as
``tools/score.py`` results -- are refused, naming the keys that differ; ``--allow-different-configs`` merges them
anyway and records the differences in the merged ``metrics.json`` and report.

For ``tools/score.py`` results (one metric dict per method) ``--method NAME`` picks the method (default ``config``).
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import sys

from mmood.apis import guarded, merge_runs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: merge the metrics of several runs into mean ± std')
    parser.add_argument('runs', nargs='+', help='metrics.json files or directories holding one')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--method', default='config', help='method of tools/score.py results (default config)')
    parser.add_argument('--allow-different-configs', action='store_true',
                        help='merge runs whose configs differ (seeds aside) or cannot be compared; the differences are '
                        'recorded in the merged metrics.json and report')
    return parser.parse_args(argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    return merge_runs(args.runs, args.out, method=args.method, allow_different_configs=args.allow_different_configs)


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
