"""The one writer of a scored run: ``per_sample_results.csv``, the report and ``metrics.json``.

``tools/test.py`` (through :class:`~mmood.engine.OODResultsHook`, from what :class:`~mmood.evaluation.OODMetric`
gathered) and ``tools/score.py`` (re-scoring cached features, :func:`mmood.apis.score`) both hold their samples in a
:class:`ScoredSamples` table and call :func:`evaluate_samples` and :func:`write_results`, so a re-scored run writes
the same files, with the same columns and keys, as the test run it re-scores.
"""
import csv
import json
import os
import os.path as osp
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..utils.io import atomic_open
from .metrics.ood_metric import OODMetric, format_table, fpr_key, metrics_of
from .report import write_report

__all__ = ['ScoredSamples', 'RESULT_COLUMNS', 'evaluate_samples', 'summary_lines', 'write_results',
           'score_columns']

#: the leading columns of ``per_sample_results.csv`` (then one ``score_<name>`` column per named score)
RESULT_COLUMNS = ('index', 'set', 'group', 'is_ood', 'label', 'prediction', 'ood_score', 'path')


@dataclass
class ScoredSamples:
    """Every scored sample of a run, in dataset order.

    Attributes:
        idx: (N,) dataset index per sample.
        set_ids: (N,) 0 for ID, i >= 1 for the i-th OOD set.
        labels: (N,) ID class label (-1 for OOD).
        preds: (N,) predicted ID class.
        paths: image path per sample ('' when unknown).
        scores: name -> (N,) scores, or (num_ood_sets, N) set-level scores (one row per pair); primary first.
        primary_score: the score under the plain metric keys.
        skipped: unreadable images left out (``path``, ``set``, ``reason``).
    """
    idx: np.ndarray
    set_ids: np.ndarray
    labels: np.ndarray
    preds: np.ndarray
    paths: List[str]
    scores: Dict[str, np.ndarray]
    primary_score: str
    skipped: List[Dict[str, str]] = field(default_factory=list)


def evaluate_samples(table: ScoredSamples, set_names: Sequence[str], set_groups: Optional[Sequence[str]],
                     conventions: Sequence[Sequence[str]], replicates: Optional[Mapping[str, Sequence[str]]] = None
                     ) -> Dict[str, float]:
    """The metrics of every named score of ``table`` (:meth:`OODMetric.calculate_named`)."""
    return OODMetric.calculate_named(table.scores, table.primary_score, table.set_ids, set_names, set_groups,
                                     table.labels, table.preds, conventions, replicates=replicates)


def summary_lines(metrics: Mapping[str, float], table: ScoredSamples, set_names: Sequence[str],
                  conventions: Sequence[Sequence[str]], replicates: Optional[Mapping[str, Sequence[str]]] = None
                  ) -> List[str]:
    """What a run prints: the primary score's table, a line per other score, a line per replicate group."""
    fpr_positive, fpr_rule = conventions[0]
    lines = [format_table(metrics, set_names, fpr_positive, fpr_rule, title=f'score {table.primary_score}')]
    fkey = fpr_key(fpr_positive, fpr_rule)
    for name in table.scores:
        if name != table.primary_score:
            lines.append(f'{name}: mean AUROC {metrics[f"{name}/mean/AUROC"]:.2f}, mean FPR95 '
                         f'{metrics[f"{name}/mean/{fkey}"]:.2f}')
    for base in (replicates or {}):
        seeds = f'{base}/seeds/mean'
        lines.append(f'{base} over {metrics[f"{base}/seeds/count"]} stream seeds: mean AUROC '
                     f'{metrics[f"{seeds}/AUROC/mean"]:.2f} ± {metrics[f"{seeds}/AUROC/std"]:.2f}, mean FPR95 '
                     f'{metrics[f"{seeds}/{fkey}/mean"]:.2f} ± {metrics[f"{seeds}/{fkey}/std"]:.2f}')
    return lines


def score_columns(scores: Mapping[str, np.ndarray], set_names: Sequence[str]) -> List[Tuple[str, np.ndarray]]:
    """(column name, values per row) of every named score: ``score_<name>``, or ``score_<name>@<OOD set>`` for
    the pairs of a set-level score (empty where a row is not in the pair)."""
    columns = []
    for name, values in scores.items():
        values = np.asarray(values)
        if values.ndim == 1:
            columns.append((f'score_{name}', values))
        else:
            columns += [(f'score_{name}@{set_names[sid]}', values[sid - 1]) for sid in range(1, len(set_names))]
    return columns


def _cell(value: float) -> str:
    return '' if value != value else repr(float(value))


def write_results(out_dir: str, table: ScoredSamples, metrics: Mapping[str, float], set_names: Sequence[str],
                  set_groups: Sequence[str], conventions: Sequence[Sequence[str]], config: Optional[str],
                  checkpoint: Optional[Dict[str, Any]], title: str, notes: Sequence[str] = (),
                  report: bool = True, plots: bool = True, filename: str = 'per_sample_results.csv'
                  ) -> Dict[str, str]:
    """Write a run's files into ``out_dir``, each atomically, ``metrics.json`` last (its presence means the run is
    complete).

    * ``per_sample_results.csv``: one row per sample -- :data:`RESULT_COLUMNS` (``ood_score`` = the primary score)
      and a ``score_<name>`` column per named score (set-level scores: one ``score_<name>@<OOD set>`` per pair);
    * ``report.md``, ``report.csv`` and the ROC / histogram PNGs (:func:`write_report`; one block per score);
    * ``metrics.json``: ``config``, ``checkpoint`` (the loaded checkpoint's record), ``primary_score``,
      ``score_names``, ``set_names``, ``set_groups``, ``fpr`` (the conventions), ``skipped_images``, ``metrics``.

    Returns:
        ``{'csv': ..., 'metrics': ..., 'md': ...}`` paths (``md`` when a report was written).
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = dict(csv=osp.join(out_dir, filename), metrics=osp.join(out_dir, 'metrics.json'))
    primary = np.asarray(table.scores[table.primary_score])
    columns = score_columns(table.scores, set_names)
    with atomic_open(paths['csv'], 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(RESULT_COLUMNS + tuple(c for c, _ in columns))
        for row in range(len(table.set_ids)):
            sid = int(table.set_ids[row])
            writer.writerow([int(table.idx[row]), set_names[sid], set_groups[sid], int(sid > 0),
                             int(table.labels[row]), int(table.preds[row]),
                             _cell(primary[row]) if primary.ndim == 1 else '', table.paths[row]] +
                            [_cell(values[row]) for _, values in columns])
    if report and metrics:
        results = OrderedDict((name, dict(scores=table.scores[name], metrics=metrics_of(metrics, name)))
                              for name in table.scores)
        written = write_report(out_dir, results, table.set_ids, set_names, set_groups, conventions[0][0],
                               conventions[0][1], title=title, notes=list(notes), plots=plots)
        paths['md'] = written['md']
    with atomic_open(paths['metrics'], 'w') as f:
        json.dump(dict(config=config, checkpoint=checkpoint, primary_score=table.primary_score,
                       score_names=list(table.scores), set_names=list(set_names), set_groups=list(set_groups),
                       fpr=[list(c) for c in conventions],
                       skipped_images=dict(count=len(table.skipped), images=list(table.skipped)),
                       metrics=dict(metrics or {})), f, indent=1)
    return paths
