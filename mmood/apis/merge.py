"""Several runs merged into mean ± std (``tools/merge_runs.py``): training seeds, or the published checkpoints of
one method, on one benchmark and config."""
import glob
import json
import os
import os.path as osp
import sys
from typing import Any, Dict, Optional, Sequence, TextIO

from ..utils import ConfigError, DataError

__all__ = ['merge_runs', 'metrics_file', 'read_run']


def metrics_file(run: str) -> str:
    """``run`` itself when it is a file, else the one ``metrics.json`` in it (or in one sub-directory)."""
    if osp.isfile(run):
        return run
    found = sorted(glob.glob(osp.join(run, 'metrics.json'))) or sorted(glob.glob(osp.join(run, '*', 'metrics.json')))
    if len(found) != 1:
        raise DataError(f'{run}: expected one metrics.json in it (or in one sub-directory), found {len(found)}')
    return found[0]


def read_run(path: str, method: str = 'config') -> Dict[str, Any]:
    """A ``metrics.json`` record; for a re-scoring result (one metric dict per method) the metrics of ``method``."""
    with open(path) as f:
        record = json.load(f)
    metrics = record['metrics']
    if 'methods' in record:  # tools/score.py: metrics per method
        if method not in metrics:
            raise ConfigError(f'{path} has no method "{method}" (it has {sorted(metrics)}); use --method')
        metrics = metrics[method]
    return dict(record, metrics=metrics)


def merge_runs(runs: Sequence[str], out_dir: str, method: str = 'config',
               out: Optional[TextIO] = None) -> Dict[str, Any]:
    """Merge the metrics of several runs into mean ± sample std.

    Args:
        runs: ``metrics.json`` files or directories holding one (a test run's log directory, a re-scoring
            ``score_*`` directory); they must report the same keys.
        out_dir: writes ``metrics.json`` (``mean``, ``std``, ``num_runs``, the runs), ``report.md`` and
            ``report.csv`` (one row per score and OOD set / mean: ``mean ± std``).
        method: the method of re-scoring results.
        out: where the report is printed (default ``sys.stdout``).

    Returns:
        The merged metrics (:func:`mmood.evaluation.merge_metrics`).

    Raises:
        ConfigError: runs with other keys, or a record without its set names.
    """
    from ..evaluation import merge_metrics, write_merged_report
    from ..utils import atomic_open
    out = out or sys.stdout
    files = [metrics_file(r) for r in runs]
    records = [read_run(f, method) for f in files]
    try:
        merged = merge_metrics([r['metrics'] for r in records])
    except ValueError as err:
        raise ConfigError(str(err)) from None
    first = records[0]
    set_names = first.get('set_names')
    if not set_names:
        raise ConfigError(f'{files[0]} does not name its sets (written before mmood recorded them); merge runs '
                          f'written by this version')
    fpr = (first.get('fpr') or [['id', 'closest']])[0]
    scores = first.get('score_names') or [first.get('primary_score') or method]
    os.makedirs(out_dir, exist_ok=True)
    with atomic_open(osp.join(out_dir, 'metrics.json'), 'w') as f:
        json.dump(dict(runs=files, num_runs=merged['num_runs'], set_names=set_names,
                       set_groups=first.get('set_groups'), fpr=first.get('fpr'), score_names=scores,
                       mean=merged['mean'], std=merged['std']), f, indent=1)
    written = write_merged_report(out_dir, merged, scores, set_names, first.get('set_groups'), fpr[0], fpr[1],
                                  runs=files)
    with open(written['md']) as f:
        print(f.read(), file=out)
    print(f'Merged {merged["num_runs"]} runs: {out_dir}', file=out)
    return merged
