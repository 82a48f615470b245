"""OOD detection metric for mmengine runners: every named score, per OOD set, in one or more FPR95 conventions."""
import logging
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from ...utils.errors import ConfigError
from ..functional import FPR_POSITIVES, FPR_RULES, fpr_at_recall, ood_metrics

__all__ = ['OODMetric', 'METRIC_NAMES', 'fpr_key', 'format_table', 'pair_row', 'check_score_names', 'metrics_of']

METRIC_NAMES = ('AUROC', 'FPR95', 'AUPR_IN', 'AUPR_OUT')
#: key prefixes of the mean rows and the accuracy: no score may be named like them.
RESERVED = ('mean', 'near', 'far', 'ID')


def fpr_key(fpr_positive: str, fpr_rule: str) -> str:
    """Name of the FPR95 entry, carrying its convention (e.g. ``FPR95_id_closest``)."""
    return f'FPR95_{fpr_positive}_{fpr_rule}'


def pair_row(scores: np.ndarray, set_id: int) -> np.ndarray:
    """The scores of pair (ID, OOD set ``set_id``): ``scores`` itself when it is per sample ``(N,)``, its row
    ``set_id - 1`` when it is per pair ``(num_ood_sets, N)`` (set-level heads; NaN outside the pair)."""
    scores = np.asarray(scores)
    return scores if scores.ndim == 1 else scores[set_id - 1]


def check_score_names(names: Sequence[str], set_names: Sequence[str]) -> None:
    """Score names become metric-key prefixes: refuse names that would collide with sets or mean rows."""
    bad = [n for n in names if not n or '/' in n or n in RESERVED or n in set_names]
    if bad:
        raise ValueError(f'Score names {bad} cannot name metrics (no "/", not a set name, not one of {RESERVED}); '
                         f'rename them with the head option `prefix`.')


def metrics_of(metrics: Mapping[str, float], name: str) -> Dict[str, float]:
    """The metrics of one named score with the prefix removed (plus ``ID/accuracy``), as :meth:`OODMetric.calculate`
    returns them for that score alone."""
    head = f'{name}/'
    out = OrderedDict((k[len(head):], v) for k, v in metrics.items() if k.startswith(head))
    if 'ID/accuracy' in metrics:
        out['ID/accuracy'] = metrics['ID/accuracy']
    return out


def _first(label) -> int:
    """The first entry of a label (a tensor, array or sequence) as an ``int``: a one-element tensor is read directly
    (indexing it first costs another tensor per sample)."""
    if isinstance(label, torch.Tensor) and label.numel() == 1:
        return int(label.item())
    return int(label[0])


def _conventions(fpr_positive: str, fpr_rule: str, extra_fpr: Sequence[Sequence[str]]) -> List[Tuple[str, str]]:
    pairs = [(fpr_positive, fpr_rule)] + [tuple(p) for p in (extra_fpr or ())]
    for pair in pairs:
        if len(pair) != 2 or pair[0] not in FPR_POSITIVES or pair[1] not in FPR_RULES:
            raise ConfigError(f'FPR95 convention {pair!r} must be (fpr_positive, fpr_rule) with fpr_positive in '
                              f'{FPR_POSITIVES} and fpr_rule in {FPR_RULES}')
    return list(dict.fromkeys(pairs))


@METRICS.register_module()
class OODMetric(BaseMetric):
    """AUROC, FPR95, AUPR-In and AUPR-Out per OOD set and their means, for every named score; ID top-1 accuracy.

    Scores are higher = more ID. ``process`` keeps, per sample, its named scores (``ood_scores``; a lone
    ``ood_score`` also works), label, prediction, set id, index and path -- plus, when the model has set-level
    heads, the features they score; ``compute_metrics`` delegates the maths to the static :meth:`calculate` /
    :meth:`calculate_named` (usable without a Runner). Under DDP, :meth:`BaseMetric.evaluate` drops the sampler's
    padding, so each sample counts once.

    Output keys (percent), for every named score ``<s>``: ``<s>/<set>/AUROC``, ``<s>/<set>/FPR95_<positive>_<rule>``
    (one per FPR95 convention), ``<s>/<set>/AUPR_IN``, ``<s>/<set>/AUPR_OUT`` for every OOD set, the same under
    ``<s>/mean/`` (all OOD sets), ``<s>/near/`` and ``<s>/far/`` (when the benchmark has such sets); the primary
    score (the model's ``primary_score``) also without the ``<s>/`` prefix; and ``ID/accuracy``. For each group of
    *replicates* ``<b> -> [<s1>, <s2>, ...]`` (repeated runs of one score, e.g. one per stream seed; the model's
    ``score_replicates``): ``<b>/seeds/<group>/<metric>/mean`` and ``.../std`` over the group's scores for every
    mean row ``<group>`` (``mean``, ``near``, ``far``) and metric, and ``<b>/seeds/count`` (see
    :meth:`replicate_summary`).

    The metric holds data, never a model. What it needs to know of the model's scores -- the primary one, the
    replicate groups, the names of the set-level scores -- is declared to it by :meth:`declare_scores` (called by
    :class:`~mmood.engine.OODPrepareHook` with the model's declarations); set-level scores (per (ID, OOD set)
    pair) are computed from the gathered features before the metric computes anything, by
    :class:`~mmood.engine.SetLevelScoresHook`, and handed over with :meth:`add_set_level_scores`.

    After ``compute_metrics`` the per-sample table (:attr:`results_table`, a
    :class:`~mmood.evaluation.ScoredSamples`) is kept on the main process for
    :class:`~mmood.engine.OODResultsHook` (CSV and report). Stand-ins for unreadable images (a dataset with
    ``skip_unreadable=True``) are left out of every metric and listed there (``skipped``).

    Args:
        fpr_positive: ``'id'`` (default; every seed method) or ``'ood'`` (OpenOOD v1.5).
        fpr_rule: ``'closest'`` (default; Hendrycks routine), ``'interp'`` (CLIPN/PLP) or ``'first_ge'``.
        extra_fpr: more ``(fpr_positive, fpr_rule)`` conventions reported alongside, e.g. ``[('ood', 'first_ge')]``.
        primary_score: the score under the plain keys (default: the model's primary score, else the first).
        collect_device: ``'cpu'`` or ``'gpu'``.
        prefix: optional key prefix.
        collect_dir: directory for CPU result collection across ranks.
    """
    default_prefix = ''  # keys are already namespaced by set name

    def __init__(self, fpr_positive: str = 'id', fpr_rule: str = 'closest',
                 extra_fpr: Sequence[Sequence[str]] = (), primary_score: Optional[str] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None, collect_dir: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.conventions = _conventions(fpr_positive, fpr_rule, extra_fpr)
        self.fpr_positive, self.fpr_rule = self.conventions[0]
        self.primary_score = primary_score
        self.set_level_names: Tuple[str, ...] = ()
        self.score_replicates: Dict[str, List[str]] = {}
        self.set_level_scores: Optional[Tuple[np.ndarray, Dict[str, np.ndarray]]] = None
        self.results_table: Optional[Any] = None

    def declare_scores(self, primary_score: Optional[str] = None,
                       replicates: Optional[Mapping[str, Sequence[str]]] = None, set_level: Sequence[str] = ()) -> None:
        """What the scores are: the primary one (unless the metric's own ``primary_score`` is set), the replicate
        groups (base name -> score names; their mean ± std is added) and the names of the set-level scores that
        :meth:`add_set_level_scores` will deliver."""
        if self.primary_score is None:
            self.primary_score = primary_score
        self.score_replicates = {str(b): list(n) for b, n in dict(replicates or {}).items()}
        self.set_level_names = tuple(set_level)
        self.set_level_scores = None

    def add_set_level_scores(self, idx: np.ndarray, scores: Mapping[str, np.ndarray]) -> None:
        """The set-level scores of the gathered samples: ``idx`` (N,) their dataset indices, ``scores`` name ->
        (num_ood_sets, N) set-level scores (one row per pair) in that order (main process, before
        :meth:`compute_metrics`)."""
        self.set_level_scores = (np.asarray(idx), {str(k): np.asarray(v) for k, v in scores.items()})

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            if sample.get('unreadable'):  # a stand-in for an unreadable image (skip_unreadable): counted, not scored
                self.results.append(dict(idx=int(sample.get('sample_idx', -1)), skipped=str(sample['unreadable']),
                                         set_id=int(sample['set_id']), path=str(sample.get('img_path', ''))))
                continue
            scores = sample.get('ood_scores')
            if scores is None:
                scores = {'ood_score': sample['ood_score']}
            result = dict(
                idx=int(sample.get('sample_idx', -1)),
                scores={name: float(value) for name, value in scores.items()},
                label=_first(sample['gt_label']) if 'gt_label' in sample else -1,
                pred=_first(sample['pred_label']) if 'pred_label' in sample else -1,
                set_id=int(sample['set_id']),
                path=str(sample.get('img_path', '')))
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        meta = self.dataset_meta or {}
        set_names = meta.get('set_names')
        if set_names is None:
            raise ValueError('OODMetric needs `set_names` in the dataset metainfo (use OODEvalDataset)')
        if all(r['idx'] >= 0 for r in results):
            results = sorted(results, key=lambda r: r['idx'])  # dataset order (the set-level stream order)
        skipped = [dict(path=r['path'], set=set_names[r['set_id']], reason=r['skipped']) for r in results
                   if 'skipped' in r]
        results = [r for r in results if 'skipped' not in r]
        if skipped:
            print_log(f'{len(skipped)} unreadable images left out of the metrics (skip_unreadable=True), e.g. '
                      f'{skipped[0]["path"]}: {skipped[0]["reason"]}', logger='current', level=logging.WARNING)
        set_ids = np.array([r['set_id'] for r in results])
        scores = OrderedDict((name, np.array([r['scores'][name] for r in results], dtype=np.float64))
                             for name in results[0]['scores'])
        if self.set_level_names:
            if self.set_level_scores is None:
                raise RuntimeError(f'The set-level scores {list(self.set_level_names)} were not computed: keep '
                                   "dict(type='SetLevelScoresHook') in custom_hooks "
                                   '(configs/_base_/default_runtime.py)')
            order, pair_scores = self.set_level_scores
            position = {int(i): p for p, i in enumerate(order)}
            try:
                rows = np.array([position[r['idx']] for r in results], dtype=np.int64)
            except KeyError as err:
                raise RuntimeError(f'No set-level scores for sample {err}') from None
            scores.update((name, values[:, rows]) for name, values in pair_scores.items())
            self.set_level_scores = None
        primary = self.primary_score if self.primary_score in scores else next(iter(scores))
        labels = np.array([r['label'] for r in results])
        preds = np.array([r['pred'] for r in results])
        metrics = self.calculate_named(scores, primary, set_ids, set_names, meta.get('set_groups'), labels, preds,
                                       self.conventions, replicates=self.score_replicates)
        from ..results import ScoredSamples, summary_lines
        self.results_table = ScoredSamples(idx=np.array([r['idx'] for r in results]), set_ids=set_ids,
                                           labels=labels, preds=preds, paths=[r['path'] for r in results],
                                           scores=scores, primary_score=primary, skipped=skipped)
        lines = summary_lines(metrics, self.results_table, set_names, self.conventions, self.score_replicates)
        print_log('\n' + '\n'.join(lines), logger='current', level=logging.INFO)
        return metrics

    @staticmethod
    def calculate(scores: np.ndarray, set_ids: np.ndarray, set_names: Sequence[str],
                  set_groups: Optional[Sequence[str]] = None, labels: Optional[np.ndarray] = None,
                  preds: Optional[np.ndarray] = None, fpr_positive: str = 'id',
                  fpr_rule: str = 'closest', extra_fpr: Sequence[Sequence[str]] = ()) -> Dict[str, float]:
        """The metric's maths for one score, without a Runner.

        Args:
            scores: (N,) OOD scores, higher = more ID; or (num_ood_sets, N) set-level scores (row ``i - 1``: the
                pair of OOD set ``i``, NaN outside it).
            set_ids: (N,) 0 for ID samples, i >= 1 for the i-th OOD set.
            set_names: names indexed by set id (index 0 = ID).
            set_groups: ``'id'``/``'near'``/``'far'`` per set id; near/far means are added when present.
            labels: (N,) ID class labels (-1 for OOD) for the accuracy.
            preds: (N,) predicted classes.
            fpr_positive: positive class of FPR95.
            fpr_rule: threshold rule of FPR95.
            extra_fpr: more ``(fpr_positive, fpr_rule)`` conventions, each its own ``FPR95_<positive>_<rule>`` key.

        Returns:
            Ordered dict of percentages.
        """
        conventions = _conventions(fpr_positive, fpr_rule, extra_fpr)
        scores = np.asarray(scores, dtype=np.float64)
        set_ids = np.asarray(set_ids)
        if not np.any(set_ids == 0):
            raise ValueError('No ID samples (set id 0) to evaluate')
        if scores.ndim == 2 and scores.shape[0] != len(set_names) - 1:
            raise ValueError(f'Set-level scores need one row per OOD set ({len(set_names) - 1}), got {scores.shape}')
        fkeys = [fpr_key(*c) for c in conventions]
        keys = ['AUROC'] + fkeys + ['AUPR_IN', 'AUPR_OUT']
        out = OrderedDict()
        per_set = OrderedDict()
        for sid, name in enumerate(set_names):
            if sid == 0:
                continue
            row = pair_row(scores, sid)
            ood, id_scores = row[set_ids == sid], row[set_ids == 0]
            if ood.size == 0:
                raise ValueError(f'OOD set "{name}" has no samples')
            m = ood_metrics(id_scores, ood, fpr_positive=conventions[0][0], fpr_rule=conventions[0][1])
            values = dict(AUROC=m['AUROC'], AUPR_IN=m['AUPR_IN'], AUPR_OUT=m['AUPR_OUT'])
            values[fkeys[0]] = m['FPR95']
            for (positive, rule), key in zip(conventions[1:], fkeys[1:]):
                pos, neg = (id_scores, ood) if positive == 'id' else (-ood, -id_scores)
                values[key] = 100.0 * fpr_at_recall(pos, neg, 0.95, rule)
            per_set[name] = values
            for k in keys:
                out[f'{name}/{k}'] = float(values[k])
        groups = {'mean': list(per_set)}
        if set_groups is not None:
            for g in ('near', 'far'):
                members = [n for sid, n in enumerate(set_names) if sid > 0 and set_groups[sid] == g]
                if members:
                    groups[g] = members
        for g, members in groups.items():
            for k in keys:
                out[f'{g}/{k}'] = float(np.mean([per_set[n][k] for n in members]))
        if labels is not None and preds is not None:
            labels = np.asarray(labels)[set_ids == 0]
            preds = np.asarray(preds)[set_ids == 0]
            out['ID/accuracy'] = float(100.0 * np.mean(labels == preds))
        return out

    @staticmethod
    def calculate_named(scores: Mapping[str, np.ndarray], primary: str, set_ids: np.ndarray,
                        set_names: Sequence[str], set_groups: Optional[Sequence[str]] = None,
                        labels: Optional[np.ndarray] = None, preds: Optional[np.ndarray] = None,
                        conventions: Sequence[Sequence[str]] = (('id', 'closest'), ),
                        replicates: Optional[Mapping[str, Sequence[str]]] = None) -> Dict[str, float]:
        """Metrics of several named scores: every score under ``<name>/``, the primary one also unprefixed.

        Args:
            scores: name -> (N,) or (num_ood_sets, N) scores.
            primary: the name reported under the plain keys.
            conventions: ``(fpr_positive, fpr_rule)`` pairs, the first being the main one.
            replicates: base name -> names of ``scores`` that are repeated runs of one score (e.g. one per stream
                seed; the base is normally the first name): their mean ± std is added after the other keys
                (:meth:`replicate_summary`).
            (others as :meth:`calculate`)

        Returns:
            Ordered dict of percentages.
        """
        check_score_names(list(scores), set_names)
        replicates = dict(replicates or {})
        if replicates:
            check_score_names(list(replicates), set_names)
            missing = [n for names in replicates.values() for n in names if n not in scores]
            if missing:
                raise ValueError(f'Replicate scores {missing} are not among the scores {list(scores)}')
        conventions = [tuple(c) for c in conventions]
        per_name = {name: OODMetric.calculate(s, set_ids, set_names, set_groups, labels, preds, *conventions[0],
                                              extra_fpr=conventions[1:]) for name, s in scores.items()}
        out = OrderedDict(per_name[primary])
        for name, metrics in per_name.items():
            out.update((f'{name}/{k}', v) for k, v in metrics.items() if k != 'ID/accuracy')
        out.update(OODMetric.replicate_summary(per_name, replicates))
        return out

    @staticmethod
    def replicate_summary(per_name_metrics: Mapping[str, Mapping[str, float]],
                          replicates: Mapping[str, Sequence[str]]) -> Dict[str, float]:
        """Mean and population std (``ddof = 0``) over repeated runs of one score.

        Args:
            per_name_metrics: score name -> its metrics as :meth:`calculate` returns them (unprefixed).
            replicates: base name -> the score names that are repeated runs of one score (e.g. one per stream seed).

        Returns:
            Ordered dict: for every base, ``<base>/seeds/<group>/<metric>/mean`` and ``.../std`` for every mean row
            ``<group>`` (``mean``, then ``near`` / ``far`` when computed) and every metric key of that row
            (``AUROC``, the ``FPR95_*`` keys, ``AUPR_IN``, ``AUPR_OUT``), then ``<base>/seeds/count``.
        """
        out = OrderedDict()
        for base, names in replicates.items():
            names = list(names)
            if not names:
                raise ValueError(f'Replicates of "{base}" name no scores')
            missing = [n for n in names if n not in per_name_metrics]
            if missing:
                raise ValueError(f'Replicate scores {missing} of "{base}" have no metrics')
            first = per_name_metrics[names[0]]
            for group in ('mean', 'near', 'far'):
                for key in [k[len(group) + 1:] for k in first if k.startswith(f'{group}/')]:
                    values = np.array([per_name_metrics[n][f'{group}/{key}'] for n in names], dtype=np.float64)
                    out[f'{base}/seeds/{group}/{key}/mean'] = float(values.mean())
                    out[f'{base}/seeds/{group}/{key}/std'] = float(values.std())
            out[f'{base}/seeds/count'] = len(names)
        return out


def format_table(metrics: Dict[str, float], set_names: Sequence[str], fpr_positive: str = 'id',
                 fpr_rule: str = 'closest', title: str = '') -> str:
    """A plain-text table of the plain (primary) keys: rows are OOD sets and means, columns the four metrics."""
    fkey = fpr_key(fpr_positive, fpr_rule)
    rows = [n for n in set_names[1:]] + [g for g in ('near', 'far', 'mean') if f'{g}/AUROC' in metrics]
    width = max(len(r) for r in rows + ['set'])
    head = f'{"set":<{width}}  {"AUROC":>7}  {"FPR95":>7}  {"AUPR_IN":>7}  {"AUPR_OUT":>8}'
    lines = [f'OOD metrics{" of " + title if title else ""} (%; higher score = ID; FPR95 with '
             f'{fpr_positive.upper()} positive, {fpr_rule} rule)', head, '-' * len(head)]
    for r in rows:
        lines.append(f'{r:<{width}}  {metrics[f"{r}/AUROC"]:7.2f}  {metrics[f"{r}/{fkey}"]:7.2f}  '
                     f'{metrics[f"{r}/AUPR_IN"]:7.2f}  {metrics[f"{r}/AUPR_OUT"]:8.2f}')
    if 'ID/accuracy' in metrics:
        lines.append(f'ID top-1 accuracy: {metrics["ID/accuracy"]:.2f}')
    return '\n'.join(lines)
