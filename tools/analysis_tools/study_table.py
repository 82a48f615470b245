"""A study's table from its finished test runs: ``python tools/analysis_tools/study_table.py FOLDER [FOLDER ...]``
(:func:`mmood.apis.study_table`).

Reads every ``metrics.json`` under the folders whose config declares ``study = dict(name, id_set, cell, aux)`` and
prints a row per (ID set, cell) and a column per auxiliary set, each ``FPR95 / AUROC``.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from mmood.apis import guarded, study_table


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: the table of a study from its test runs')
    parser.add_argument('folders', nargs='+', help='folders holding the runs (e.g. work_dirs/)')
    return parser.parse_args(argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    return study_table(args.folders)


if __name__ == '__main__':
    main()
