"""Merge the metrics of several runs (seeds, or CLIPN's three published checkpoints) into mean ± std.

``tools/merge_runs.py RUN [RUN ...]`` reads each run's ``metrics.json`` (written by ``tools/test.py``, MMPretrain's
``tools/test.py`` or ``tools/score.py``) and writes ``metrics.json`` (``mean``, ``std``, the runs), ``report.md``
and ``report.csv`` with one row per (score, OOD set / mean): ``mean ± std`` over the runs. The standard deviation
is the sample one (``ddof = 1``; 0 for a single run). Runs must report the same keys: merging a run of another
benchmark or another score set is refused, naming the keys that differ. Whether the runs ran one config (seeds aside)
is checked before, by :func:`mmood.apis.merge.check_configs`; this module only averages.
"""
import csv
import os
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ..utils.io import atomic_open
from .metrics.ood_metric import METRIC_NAMES, fpr_key

__all__ = ['merge_metrics', 'write_merged_report']


def merge_metrics(runs: Sequence[Mapping[str, float]]) -> Dict[str, Any]:
    """Mean and sample standard deviation of every metric key over runs.

    Args:
        runs: the metric dicts of each run (same keys).

    Returns:
        ``{'mean': {key: value}, 'std': {key: value}, 'num_runs': n}`` (keys in the first run's order).

    Raises:
        ValueError: no runs, or runs with different keys (the message names them).
    """
    if not runs:
        raise ValueError('merge_metrics needs at least one run')
    keys = list(runs[0])
    for i, run in enumerate(runs[1:], start=2):
        if set(run) != set(keys):
            only_first = sorted(set(keys) - set(run))[:5]
            only_this = sorted(set(run) - set(keys))[:5]
            raise ValueError(f'Run {i} reports other metrics than run 1 (only in run 1: {only_first}; only in run '
                             f'{i}: {only_this}): merge runs of one benchmark and one config.')
    values = {k: np.array([float(run[k]) for run in runs], dtype=np.float64) for k in keys}
    ddof = 1 if len(runs) > 1 else 0
    return dict(mean=OrderedDict((k, float(v.mean())) for k, v in values.items()),
                std=OrderedDict((k, float(v.std(ddof=ddof))) for k, v in values.items()),
                num_runs=len(runs))


def _rows(merged: Mapping[str, Any], score_names: Sequence[str], set_names: Sequence[str],
          set_groups: Optional[Sequence[str]], fkey: str) -> List[Dict[str, Any]]:
    mean, std = merged['mean'], merged['std']
    groups = list(set_groups) if set_groups else ['id'] + ['far'] * (len(set_names) - 1)
    rows = []
    for name in score_names:
        prefix = f'{name}/' if f'{name}/mean/AUROC' in mean else ''
        entries = [(n, n, groups[i]) for i, n in enumerate(set_names) if i > 0]
        entries += [(g, label, 'mean') for g, label in (('near', 'near'), ('far', 'far'), ('mean', 'all'))
                    if f'{prefix}{g}/AUROC' in mean]
        for key, label, group in entries:
            row = dict(score=name, set=label, group=group)
            for metric in METRIC_NAMES:
                full = f'{prefix}{key}/{fkey if metric == "FPR95" else metric}'
                row[metric] = (mean[full], std[full])
            rows.append(row)
    return rows


def write_merged_report(out_dir: str, merged: Mapping[str, Any], score_names: Sequence[str],
                        set_names: Sequence[str], set_groups: Optional[Sequence[str]] = None,
                        fpr_positive: str = 'id', fpr_rule: str = 'closest', runs: Sequence[str] = (),
                        title: str = 'OOD detection report: mean ± std over runs',
                        notes: Sequence[str] = ()) -> Dict[str, str]:
    """Write ``report.md`` and ``report.csv`` of merged metrics (:func:`merge_metrics`).

    Args:
        out_dir: output directory (created).
        merged: the output of :func:`merge_metrics`.
        score_names: the scores to tabulate (the primary one first; keys ``<name>/...`` or the plain keys).
        set_names: names by set id (index 0 = ID).
        set_groups: ``'id'``/``'near'``/``'far'`` by set id.
        fpr_positive: FPR95 positive class of the tabulated convention.
        fpr_rule: FPR95 threshold rule of the tabulated convention.
        runs: where the runs came from (listed in the header).
        title: first line of ``report.md``.
        notes: warnings for the header of both files (e.g. the config keys in which the runs differ).

    Returns:
        ``{'md': path, 'csv': path}``.
    """
    os.makedirs(out_dir, exist_ok=True)
    fkey = fpr_key(fpr_positive, fpr_rule)
    rows = _rows(merged, score_names, set_names, set_groups, fkey)
    csv_path = osp.join(out_dir, 'report.csv')
    with atomic_open(csv_path, 'w', newline='') as f:
        f.write(f'# {title}\n# {merged["num_runs"]} runs; FPR95 = {fkey}; metrics in percent; std with ddof=1\n')
        for note in notes:
            f.write(f'# warning: {note}\n')
        writer = csv.writer(f)
        writer.writerow(['score', 'set', 'group'] + [f'{m}_{s}' for m in METRIC_NAMES for s in ('mean', 'std')])
        for row in rows:
            writer.writerow([row['score'], row['set'], row['group']] +
                            [repr(v) for m in METRIC_NAMES for v in row[m]])
    lines = [f'# {title}', '', f'- {merged["num_runs"]} runs (sample std, ddof = 1); FPR95 = {fkey}; percent']
    lines += [f'- **warning**: {note}' for note in notes]
    lines += [f'- run: {r}' for r in runs]
    lines += ['', '| score | set | group | AUROC | FPR95 | AUPR-In | AUPR-Out |', '|---|---|---|---|---|---|---|']
    for row in rows:
        cells = ' | '.join(f'{row[m][0]:.2f} ± {row[m][1]:.2f}' for m in METRIC_NAMES)
        lines.append(f'| {row["score"]} | {row["set"]} | {row["group"]} | {cells} |')
    md_path = osp.join(out_dir, 'report.md')
    with atomic_open(md_path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return dict(md=md_path, csv=csv_path)
