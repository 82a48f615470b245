"""A study's table from its finished test runs (``tools/analysis_tools/study_table.py``).

A study config carries a top-level ``study = dict(name=..., id_set=..., cell=..., aux=...)`` (TOE's real/virtual x
image/text study: ``configs/toe/toe_study_*.py``; docs/toe.md). Every test run writes ``metrics.json`` naming its
config; this collects the runs of one or more folders, reads each run's ``study`` entry from its config, and prints
one table per study: a row per (ID set, cell), a column per auxiliary set, each entry ``FPR95 / AUROC`` of the run's
OOD sets averaged (``mean/...`` of metrics.json; the study's configs test on one OOD set, so it is that set's).
The latest run of a config wins when a folder holds several.
"""
import glob
import json
import os.path as osp
import sys
from typing import Any, Dict, List, Optional, Sequence, TextIO

__all__ = ['study_runs', 'study_table']


def _config_of(metrics_path: str, named: str) -> Optional[str]:
    """The run's config file: the path metrics.json names, else the copy mmengine dumped beside the run."""
    if named and osp.isfile(named):
        return named
    run_dir = osp.dirname(osp.dirname(metrics_path))
    copy = osp.join(run_dir, osp.basename(named or ''))
    return copy if named and osp.isfile(copy) else None


def study_runs(folders: Sequence[str]) -> List[Dict[str, Any]]:
    """The test runs under ``folders`` whose config has a ``study`` entry: ``dict(study, metrics, path, config)``,
    one per config (its newest ``metrics.json``)."""
    from mmengine.config import Config
    found: Dict[str, Dict[str, Any]] = {}
    paths = []
    for folder in folders:
        paths += glob.glob(osp.join(str(folder), '**', 'metrics.json'), recursive=True)
    for path in sorted(paths, key=osp.getmtime):
        with open(path) as f:
            record = json.load(f)
        config = _config_of(path, record.get('config') or '')
        if config is None:
            continue
        study = Config.fromfile(config).get('study')
        if not study:
            continue
        found[osp.abspath(config)] = dict(study=dict(study), metrics=record['metrics'], path=path, config=config)
    return list(found.values())


def _metric(metrics: Dict[str, float], name: str) -> Optional[float]:
    keys = [k for k in metrics if k.startswith(f'mean/{name}')]
    return float(metrics[keys[0]]) if keys else None


def study_table(folders: Sequence[str], out: Optional[TextIO] = None) -> Dict[str, List[Dict[str, Any]]]:
    """Print the table of every study found under ``folders`` (module docstring).

    Returns:
        study name -> rows ``dict(id_set, cell, aux, fpr95, auroc, config)`` in table order.
    """
    out = out or sys.stdout
    tables: Dict[str, List[Dict[str, Any]]] = {}
    for run in study_runs(folders):
        s = run['study']
        tables.setdefault(str(s.get('name', 'study')), []).append(dict(
            id_set=str(s.get('id_set', '')), cell=str(s.get('cell', '')), aux=str(s.get('aux', '')),
            fpr95=_metric(run['metrics'], 'FPR95'), auroc=_metric(run['metrics'], 'AUROC'), config=run['config']))
    for name, rows in tables.items():
        rows.sort(key=lambda r: (r['id_set'], r['cell'], r['aux']))
        auxes = sorted({r['aux'] for r in rows})
        keys = sorted({(r['id_set'], r['cell']) for r in rows})
        cells = {(r['id_set'], r['cell'], r['aux']): r for r in rows}
        print(f'{name}: FPR95 / AUROC (ID positive, mean over the test OOD sets)', file=out)
        print('| ID | cell | ' + ' | '.join(auxes) + ' |', file=out)
        print('|---|---|' + '---|' * len(auxes), file=out)
        for id_set, cell in keys:
            entries = []
            for aux in auxes:
                r = cells.get((id_set, cell, aux))
                entries.append('' if r is None else f'{r["fpr95"]:.2f} / {r["auroc"]:.2f}')
            print(f'| {id_set} | {cell} | ' + ' | '.join(entries) + ' |', file=out)
    if not tables:
        print(f'no finished test run of a study config under {list(folders)}', file=out)
    return tables
