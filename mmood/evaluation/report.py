"""OOD report: ``report.md``, ``report.csv``, ROC curves and score histograms of one or more methods.

Pure: it takes scores, set ids, set names and groups and the metrics of
:meth:`~mmood.evaluation.OODMetric.calculate`, and never imports models. ``tools/test.py`` (through
``OODResultsHook``) and ``tools/score.py`` both write their reports with :func:`write_report`.

Files, in ``out_dir``:

* ``report.md`` -- the benchmark (ID set, OOD sets with their near/far group), the FPR95 convention, a summary
  table (methods x OOD sets: AUROC / FPR95, near / far / all means, ID accuracy) and one full table per method.
* ``report.csv`` -- ``#`` comment lines naming the benchmark split and the FPR95 convention, then one row per
  (method, OOD set) and per (method, mean): columns ``method, set, group, AUROC, FPR95_<positive>_<rule>,
  AUPR_IN, AUPR_OUT, ID_accuracy``, percentages at full precision. Mean rows have ``group = mean`` and ``set``
  ``near``, ``far`` or ``all``. Read it with ``pandas.read_csv(path, comment='#')``.
* ``roc_<method>.png`` -- one ROC curve per OOD set (ID positive: x = OOD accepted, y = ID accepted).
* ``score_hist_<method>.png`` -- the ID score histogram against each OOD set's.

Plots use matplotlib's Agg canvas directly (no pyplot state, no display needed).
"""
import csv
import os
import os.path as osp
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from ..utils.io import atomic_open, atomic_path
from .metrics.ood_metric import METRIC_NAMES, fpr_key, pair_row

__all__ = ['write_report', 'format_methods_table', 'report_rows', 'safe_name', 'MEAN_ROWS']

#: (metric-key prefix, row label) of the mean rows, in table order.
MEAN_ROWS = (('near', 'near'), ('far', 'far'), ('mean', 'all'))
_POSITIVE = {'id': 'ID positive: % of OOD accepted when 95 % of ID is accepted',
             'ood': 'OOD positive: % of ID rejected when 95 % of OOD is caught'}


def safe_name(name: str) -> str:
    """A file-name-safe version of a method name."""
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', str(name)).strip('_') or 'method'


def report_rows(metrics_by_method: Mapping[str, Mapping[str, float]], set_names: Sequence[str],
                set_groups: Optional[Sequence[str]] = None, fpr_positive: str = 'id',
                fpr_rule: str = 'closest') -> List[Dict[str, Any]]:
    """One dict per (method, OOD set) and (method, mean row), with the metric values in percent.

    Keys: ``method``, ``set``, ``group``, the four metrics (FPR95 named ``FPR95_<positive>_<rule>``) and
    ``ID_accuracy`` (None when unknown).
    """
    fkey = fpr_key(fpr_positive, fpr_rule)
    groups = list(set_groups) if set_groups is not None else ['id'] + ['far'] * (len(set_names) - 1)
    rows = []
    for method, metrics in metrics_by_method.items():
        acc = metrics.get('ID/accuracy')
        entries = [(name, name, groups[sid]) for sid, name in enumerate(set_names) if sid > 0]
        entries += [(prefix, label, 'mean') for prefix, label in MEAN_ROWS if f'{prefix}/AUROC' in metrics]
        for prefix, label, group in entries:
            row = dict(method=method, set=label, group=group)
            for m in METRIC_NAMES:
                row[fkey if m == 'FPR95' else m] = float(metrics[f'{prefix}/{fkey if m == "FPR95" else m}'])
            row['ID_accuracy'] = None if acc is None else float(acc)
            rows.append(row)
    return rows


def format_methods_table(metrics_by_method: Mapping[str, Mapping[str, float]], set_names: Sequence[str],
                         set_groups: Optional[Sequence[str]] = None, fpr_positive: str = 'id',
                         fpr_rule: str = 'closest') -> str:
    """One plain-text table: a row per (method, OOD set / mean), metrics in percent with 2 decimals."""
    fkey = fpr_key(fpr_positive, fpr_rule)
    rows = report_rows(metrics_by_method, set_names, set_groups, fpr_positive, fpr_rule)
    cols = ['method', 'set', 'group', 'AUROC', 'FPR95', 'AUPR_IN', 'AUPR_OUT', 'ID_acc']
    cells = []
    for r in rows:
        acc = '' if r['ID_accuracy'] is None else f'{r["ID_accuracy"]:.2f}'
        cells.append([r['method'], r['set'], r['group'], f'{r["AUROC"]:.2f}', f'{r[fkey]:.2f}',
                      f'{r["AUPR_IN"]:.2f}', f'{r["AUPR_OUT"]:.2f}', acc])
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)]
    left = 3

    def fmt(values):
        return '  '.join(v.ljust(w) if i < left else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    lines = [f'OOD metrics (%; higher score = more ID; FPR95: {_POSITIVE.get(fpr_positive, fpr_positive)}, '
             f'{fpr_rule} rule)', fmt(cols), '  '.join('-' * w for w in widths)]
    previous = None
    for row in cells:
        if previous is not None and row[0] != previous:
            lines.append('')
        lines.append(fmt(row))
        previous = row[0]
    return '\n'.join(lines)


def _benchmark_lines(set_names: Sequence[str], set_groups: Optional[Sequence[str]]) -> List[str]:
    groups = list(set_groups) if set_groups is not None else ['id'] + ['far'] * (len(set_names) - 1)
    near = [n for n, g in zip(set_names[1:], groups[1:]) if g == 'near']
    far = [n for n, g in zip(set_names[1:], groups[1:]) if g == 'far']
    out = [f'ID: {set_names[0]}']
    if near:
        out.append(f'near-OOD: {", ".join(near)}')
    if far:
        out.append(f'far-OOD: {", ".join(far)}')
    return out


def _summary_markdown(metrics_by_method, set_names, fpr_positive, fpr_rule) -> List[str]:
    fkey = fpr_key(fpr_positive, fpr_rule)
    cols = list(set_names[1:]) + [label for prefix, label in MEAN_ROWS
                                  if any(f'{prefix}/AUROC' in m for m in metrics_by_method.values())]
    prefixes = list(set_names[1:]) + [prefix for prefix, label in MEAN_ROWS
                                      if any(f'{prefix}/AUROC' in m for m in metrics_by_method.values())]
    lines = ['| method | ' + ' | '.join(cols) + ' | ID acc. |', '|---|' + '---|' * (len(cols) + 1)]
    for method, m in metrics_by_method.items():
        cells = [f'{m[f"{p}/AUROC"]:.2f} / {m[f"{p}/{fkey}"]:.2f}' if f'{p}/AUROC' in m else '' for p in prefixes]
        acc = f'{m["ID/accuracy"]:.2f}' if 'ID/accuracy' in m else ''
        lines.append(f'| {method} | ' + ' | '.join(cells) + f' | {acc} |')
    return lines


def _method_markdown(method, metrics, set_names, set_groups, fpr_positive, fpr_rule) -> List[str]:
    fkey = fpr_key(fpr_positive, fpr_rule)
    lines = [f'### {method}', '', '| set | group | AUROC | FPR95 | AUPR-In | AUPR-Out |', '|---|---|---|---|---|---|']
    for r in report_rows({method: metrics}, set_names, set_groups, fpr_positive, fpr_rule):
        label = f'**{r["set"]} (mean)**' if r['group'] == 'mean' else r['set']
        lines.append(f'| {label} | {r["group"]} | {r["AUROC"]:.2f} | {r[fkey]:.2f} | {r["AUPR_IN"]:.2f} | '
                     f'{r["AUPR_OUT"]:.2f} |')
    if 'seeds/count' in metrics:  # a score repeated over stream seeds (OODMetric.replicate_summary)
        lines += ['', f'over {metrics["seeds/count"]} stream seeds: mean AUROC {metrics["seeds/mean/AUROC/mean"]:.2f} '
                  f'± {metrics["seeds/mean/AUROC/std"]:.2f}, mean FPR95 {metrics[f"seeds/mean/{fkey}/mean"]:.2f} ± '
                  f'{metrics[f"seeds/mean/{fkey}/std"]:.2f}']
    if 'ID/accuracy' in metrics:
        lines += ['', f'ID top-1 accuracy (zero-shot classifier): {metrics["ID/accuracy"]:.2f}']
    return lines + ['']


def _new_figure(width: float = 6.0, height: float = 4.5):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100)
    fig.subplots_adjust(left=0.11, right=0.97, bottom=0.12, top=0.92)  # fixed margins: tight_layout costs 0.1 s
    FigureCanvasAgg(fig)
    return fig


def _density(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    values = values[np.isfinite(values)]
    counts, _ = np.histogram(values, bins=edges)
    return counts / max(1, values.size) / np.diff(edges)


def plot_roc(path: str, method: str, scores: np.ndarray, set_ids: np.ndarray, set_names: Sequence[str],
             metrics: Optional[Mapping[str, float]] = None) -> str:
    """ROC curves (ID positive), one per OOD set, saved as PNG."""
    from sklearn.metrics import roc_curve
    fig = _new_figure()
    ax = fig.add_subplot(1, 1, 1)
    for sid, name in enumerate(set_names):
        if sid == 0:
            continue
        row = pair_row(scores, sid)
        id_scores, ood = row[set_ids == 0], row[set_ids == sid]
        y = np.concatenate([np.ones(id_scores.size), np.zeros(ood.size)])
        fpr, tpr, _ = roc_curve(y, np.concatenate([id_scores, ood]))
        label = name
        if metrics and f'{name}/AUROC' in metrics:
            label = f'{name} (AUROC {metrics[f"{name}/AUROC"]:.2f})'
        ax.plot(fpr, tpr, label=label, linewidth=1.5)
    ax.plot([0, 1], [0, 1], color='grey', linestyle=':', linewidth=1)
    ax.axhline(0.95, color='grey', linestyle='--', linewidth=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel('OOD accepted (false-positive rate)')
    ax.set_ylabel('ID accepted (true-positive rate)')
    ax.set_title(f'{method}: ROC per OOD set (ID positive)')
    ax.legend(loc='lower right', fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png')
    return path


def plot_score_hist(path: str, method: str, scores: np.ndarray, set_ids: np.ndarray, set_names: Sequence[str],
                    bins: int = 60) -> str:
    """Score histograms (densities): the ID set against each OOD set, saved as PNG."""
    fig = _new_figure()
    ax = fig.add_subplot(1, 1, 1)
    lo, hi = float(np.nanmin(scores)), float(np.nanmax(scores))
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    id_label = f'{set_names[0]} (ID)' if scores.ndim == 1 else f'{set_names[0]} (ID, all pairs)'
    id_scores = scores[set_ids == 0] if scores.ndim == 1 else scores[:, set_ids == 0].reshape(-1)
    # np.histogram + stairs: one artist per set (ax.hist draws one patch per bin, ~10x slower to render)
    ax.stairs(_density(id_scores, edges), edges, fill=True, alpha=0.35, color='black', label=id_label)
    for sid, name in enumerate(set_names):
        if sid > 0:
            ax.stairs(_density(pair_row(scores, sid)[set_ids == sid], edges), edges, linewidth=1.5, label=name)
    ax.set_xlabel('score (higher = more ID)')
    ax.set_ylabel('density')
    ax.set_title(f'{method}: score distributions')
    ax.legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format='png')
    return path


def write_report(out_dir: str,
                 results: Mapping[str, Mapping[str, Any]],
                 set_ids: Any,
                 set_names: Sequence[str],
                 set_groups: Optional[Sequence[str]] = None,
                 fpr_positive: str = 'id',
                 fpr_rule: str = 'closest',
                 title: str = 'OOD detection report',
                 notes: Sequence[str] = (),
                 plots: bool = True) -> Dict[str, Any]:
    """Write ``report.md``, ``report.csv`` and (optionally) the ROC / histogram PNGs of every method.

    Args:
        out_dir: output directory (created).
        results: method name -> ``{'scores': (N,) array (higher = more ID), or (num_ood_sets, N) set-level scores (one
            row per pair), 'metrics': dict}`` with the metrics of :meth:`OODMetric.calculate` for the same
            ``fpr_positive`` / ``fpr_rule`` (plus, for a score repeated over stream seeds, its ``seeds/...`` mean ±
            std keys: one line under its table).
        set_ids: (N,) set id per sample (0 = ID).
        set_names: names by set id.
        set_groups: ``'id'``/``'near'``/``'far'`` by set id.
        fpr_positive: positive class of FPR95 (named in the header).
        fpr_rule: FPR95 threshold rule (named in the header).
        title: first line of ``report.md``.
        notes: extra lines for the header (config, cache, run provenance).
        plots: draw the PNGs.

    Returns:
        ``{'md': path, 'csv': path, 'roc': {method: path}, 'hist': {method: path}}``.
    """
    os.makedirs(out_dir, exist_ok=True)
    set_ids = np.asarray(set_ids)
    metrics_by_method = {name: r['metrics'] for name, r in results.items()}
    fkey = fpr_key(fpr_positive, fpr_rule)
    convention = f'FPR95 = {fkey}: {_POSITIVE.get(fpr_positive, fpr_positive)}; {fpr_rule} threshold rule'
    bench = _benchmark_lines(set_names, set_groups)

    csv_path = osp.join(out_dir, 'report.csv')
    with atomic_open(csv_path, 'w', newline='') as f:
        f.write(f'# {title}\n')
        f.write(f'# benchmark: {"; ".join(bench)}\n')
        f.write(f'# {convention}; metrics in percent; higher score = more ID\n')
        writer = csv.writer(f)
        columns = ['method', 'set', 'group', 'AUROC', fkey, 'AUPR_IN', 'AUPR_OUT', 'ID_accuracy']
        writer.writerow(columns)
        for row in report_rows(metrics_by_method, set_names, set_groups, fpr_positive, fpr_rule):
            writer.writerow([row[c] if not isinstance(row[c], float) else repr(row[c]) for c in columns])

    out = dict(md=osp.join(out_dir, 'report.md'), csv=csv_path, roc={}, hist={})
    if plots:
        for method, r in results.items():
            scores = np.asarray(r['scores'], dtype=np.float64)
            name = safe_name(method)
            out['roc'][method] = plot_roc(osp.join(out_dir, f'roc_{name}.png'), method, scores, set_ids, set_names,
                                          r['metrics'])
            out['hist'][method] = plot_score_hist(osp.join(out_dir, f'score_hist_{name}.png'), method, scores,
                                                  set_ids, set_names)

    counts = [int((set_ids == sid).sum()) for sid in range(len(set_names))]
    lines = [f'# {title}', '']
    lines += [f'- {line}' for line in bench]
    lines += ['- samples: ' + ', '.join(f'{n} {c}' for n, c in zip(set_names, counts)),
              f'- {convention}; all metrics in percent; higher score = more ID',
              '- means (near / far / all) are plain averages of the unrounded per-set values']
    lines += [f'- {note}' for note in notes]
    lines += ['', '## Summary (AUROC / FPR95)', '']
    lines += _summary_markdown(metrics_by_method, set_names, fpr_positive, fpr_rule)
    lines += ['', '## Per method', '']
    for method, metrics in metrics_by_method.items():
        lines += _method_markdown(method, metrics, set_names, set_groups, fpr_positive, fpr_rule)
        if plots:
            name = safe_name(method)
            lines += [f'![ROC {method}](roc_{name}.png) ![scores {method}](score_hist_{name}.png)', '']
    with atomic_open(out['md'], 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return out
