"""OOD detection metric for mmengine runners."""
import logging
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from ..functional import ood_metrics

METRIC_NAMES = ('AUROC', 'FPR95', 'AUPR_IN', 'AUPR_OUT')


def fpr_key(fpr_positive: str, fpr_rule: str) -> str:
    """Name of the FPR95 entry, carrying its convention (e.g. ``FPR95_id_closest``)."""
    return f'FPR95_{fpr_positive}_{fpr_rule}'


@METRICS.register_module()
class OODMetric(BaseMetric):
    """AUROC, FPR95, AUPR-In and AUPR-Out per OOD set, their means, and ID top-1 accuracy.

    Scores are higher = more ID. ``process`` keeps only the score, label, prediction and set id of each
    sample; ``compute_metrics`` is pure and delegates to the static :meth:`calculate` (usable without a
    Runner). Under DDP, :meth:`BaseMetric.evaluate` drops the sampler's padding, so each sample counts once.

    Output keys (percent): ``<set>/AUROC``, ``<set>/FPR95_<positive>_<rule>``, ``<set>/AUPR_IN``,
    ``<set>/AUPR_OUT`` for every OOD set, the same under ``mean/`` (all OOD sets), ``near/`` and ``far/``
    (when the benchmark has such sets), and ``ID/accuracy``.

    Args:
        fpr_positive: ``'id'`` (default; every seed method) or ``'ood'`` (OpenOOD v1.5).
        fpr_rule: ``'closest'`` (default; Hendrycks routine), ``'interp'`` (CLIPN/PLP) or ``'first_ge'``.
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: optional key prefix.
        collect_dir: directory for CPU result collection across ranks.
    """
    default_prefix = ''  # keys are already namespaced by set name

    def __init__(self, fpr_positive: str = 'id', fpr_rule: str = 'closest', collect_device: str = 'cpu',
                 prefix: Optional[str] = None, collect_dir: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        # validate the options once, early
        ood_metrics([1.0, 0.0], [0.5], fpr_positive=fpr_positive, fpr_rule=fpr_rule)
        self.fpr_positive = fpr_positive
        self.fpr_rule = fpr_rule

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(dict(
                score=float(sample['ood_score']),
                label=int(sample['gt_label'][0]) if 'gt_label' in sample else -1,
                pred=int(sample['pred_label'][0]) if 'pred_label' in sample else -1,
                set_id=int(sample['set_id'])))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        meta = self.dataset_meta or {}
        set_names = meta.get('set_names')
        if set_names is None:
            raise ValueError('OODMetric needs `set_names` in the dataset metainfo (use OODEvalDataset)')
        arrays = {k: np.array([r[k] for r in results]) for k in ('score', 'label', 'pred', 'set_id')}
        metrics = self.calculate(arrays['score'], arrays['set_id'], set_names, meta.get('set_groups'),
                                 arrays['label'], arrays['pred'], self.fpr_positive, self.fpr_rule)
        print_log('\n' + format_table(metrics, set_names, self.fpr_positive, self.fpr_rule), logger='current',
                  level=logging.INFO)
        return metrics

    @staticmethod
    def calculate(scores: np.ndarray, set_ids: np.ndarray, set_names: Sequence[str],
                  set_groups: Optional[Sequence[str]] = None, labels: Optional[np.ndarray] = None,
                  preds: Optional[np.ndarray] = None, fpr_positive: str = 'id',
                  fpr_rule: str = 'closest') -> Dict[str, float]:
        """The metric's maths, without a Runner.

        Args:
            scores: (N,) OOD scores, higher = more ID.
            set_ids: (N,) 0 for ID samples, i >= 1 for the i-th OOD set.
            set_names: names indexed by set id (index 0 = ID).
            set_groups: ``'id'``/``'near'``/``'far'`` per set id; near/far means are added when present.
            labels: (N,) ID class labels (-1 for OOD) for the accuracy.
            preds: (N,) predicted classes.
            fpr_positive: positive class of FPR95.
            fpr_rule: threshold rule of FPR95.

        Returns:
            Ordered dict of percentages.
        """
        scores = np.asarray(scores, dtype=np.float64)
        set_ids = np.asarray(set_ids)
        id_scores = scores[set_ids == 0]
        if id_scores.size == 0:
            raise ValueError('No ID samples (set id 0) to evaluate')
        fkey = fpr_key(fpr_positive, fpr_rule)
        out = OrderedDict()
        per_set = OrderedDict()
        for sid, name in enumerate(set_names):
            if sid == 0:
                continue
            ood = scores[set_ids == sid]
            if ood.size == 0:
                raise ValueError(f'OOD set "{name}" has no samples')
            m = ood_metrics(id_scores, ood, fpr_positive=fpr_positive, fpr_rule=fpr_rule)
            per_set[name] = m
            for k in METRIC_NAMES:
                out[f'{name}/{fkey if k == "FPR95" else k}'] = float(m[k])
        groups = {'mean': list(per_set)}
        if set_groups is not None:
            for g in ('near', 'far'):
                members = [n for sid, n in enumerate(set_names) if sid > 0 and set_groups[sid] == g]
                if members:
                    groups[g] = members
        for g, members in groups.items():
            for k in METRIC_NAMES:
                out[f'{g}/{fkey if k == "FPR95" else k}'] = float(np.mean([per_set[n][k] for n in members]))
        if labels is not None and preds is not None:
            labels = np.asarray(labels)[set_ids == 0]
            preds = np.asarray(preds)[set_ids == 0]
            out['ID/accuracy'] = float(100.0 * np.mean(labels == preds))
        return out


def format_table(metrics: Dict[str, float], set_names: Sequence[str], fpr_positive: str = 'id',
                 fpr_rule: str = 'closest') -> str:
    """A plain-text table (rows: OOD sets and means; columns: the four metrics, percent)."""
    fkey = fpr_key(fpr_positive, fpr_rule)
    rows = [n for n in set_names[1:]] + [g for g in ('near', 'far', 'mean') if f'{g}/AUROC' in metrics]
    width = max(len(r) for r in rows + ['set'])
    head = f'{"set":<{width}}  {"AUROC":>7}  {"FPR95":>7}  {"AUPR_IN":>7}  {"AUPR_OUT":>8}'
    lines = [f'OOD metrics (%; higher score = ID; FPR95 with {fpr_positive.upper()} positive, '
             f'{fpr_rule} rule)', head, '-' * len(head)]
    for r in rows:
        lines.append(f'{r:<{width}}  {metrics[f"{r}/AUROC"]:7.2f}  {metrics[f"{r}/{fkey}"]:7.2f}  '
                     f'{metrics[f"{r}/AUPR_IN"]:7.2f}  {metrics[f"{r}/AUPR_OUT"]:8.2f}')
    if 'ID/accuracy' in metrics:
        lines.append(f'ID top-1 accuracy: {metrics["ID/accuracy"]:.2f}')
    return '\n'.join(lines)
