"""Merge several runs into mean ± std: ``python tools/merge_runs.py RUN [RUN ...] --out DIR``.

Each RUN is a ``metrics.json`` file or a directory holding one (a ``tools/test.py`` log directory, a ``tools/score.py``
``score_*`` directory). Use it for training seeds or for CLIPN's three published checkpoints: the runs must report
the same keys (one benchmark, one config). Writes ``DIR/metrics.json`` (``mean``, ``std``, ``num_runs``, the runs),
``DIR/report.md`` and ``DIR/report.csv`` (one row per score and OOD set / mean: ``mean ± std``, sample std).

For ``tools/score.py`` results (one metric dict per method) ``--method NAME`` picks the method (default ``config``).
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import glob
import json
import os
import os.path as osp
import sys

from cli_common import guarded
from mmood.evaluation import merge_metrics, write_merged_report
from mmood.utils import atomic_open


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: merge the metrics of several runs into mean ± std')
    parser.add_argument('runs', nargs='+', help='metrics.json files or directories holding one')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--method', default='config', help='method of tools/score.py results (default config)')
    return parser.parse_args(argv)


def metrics_file(run: str) -> str:
    if osp.isfile(run):
        return run
    found = sorted(glob.glob(osp.join(run, 'metrics.json'))) or sorted(glob.glob(osp.join(run, '*', 'metrics.json')))
    if len(found) != 1:
        raise SystemExit(f'error: {run}: expected one metrics.json in it (or in one sub-directory), found '
                         f'{len(found)}')
    return found[0]


def read_run(path: str, method: str) -> dict:
    with open(path) as f:
        record = json.load(f)
    metrics = record['metrics']
    if 'methods' in record:  # tools/score.py: metrics per method
        if method not in metrics:
            raise SystemExit(f'error: {path} has no method "{method}" (it has {sorted(metrics)}); use --method')
        metrics = metrics[method]
    return dict(record, metrics=metrics)


@guarded
def main(argv=None):
    args = parse_args(argv)
    files = [metrics_file(r) for r in args.runs]
    runs = [read_run(f, args.method) for f in files]
    try:
        merged = merge_metrics([r['metrics'] for r in runs])
    except ValueError as err:
        raise SystemExit(f'error: {err}') from None
    first = runs[0]
    set_names = first.get('set_names')
    if not set_names:
        raise SystemExit(f'error: {files[0]} does not name its sets (written before mmood recorded them); merge '
                         f'runs written by this version')
    fpr = (first.get('fpr') or [['id', 'closest']])[0]
    scores = first.get('score_names') or [first.get('primary_score') or args.method]
    os.makedirs(args.out, exist_ok=True)
    with atomic_open(osp.join(args.out, 'metrics.json'), 'w') as f:
        json.dump(dict(runs=files, num_runs=merged['num_runs'], set_names=set_names,
                       set_groups=first.get('set_groups'), fpr=first.get('fpr'), score_names=scores,
                       mean=merged['mean'], std=merged['std']), f, indent=1)
    written = write_merged_report(args.out, merged, scores, set_names, first.get('set_groups'), fpr[0], fpr[1],
                                  runs=files)
    print(open(written['md']).read())
    print(f'Merged {merged["num_runs"]} runs: {args.out}')
    return merged


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
