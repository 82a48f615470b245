"""Threshold-free OOD detection metrics as pure functions.

Conventions (see the mmood metric documentation):

* **Score sign.** Every mmood score is *higher = more in-distribution*. Signs are flipped only inside the
  metric, when OOD is treated as the positive class.
* **AUROC** = ``roc_auc_score(y, s)`` with ``y = 1`` for ID: the probability that a random ID sample scores
  above a random OOD sample, ties counting one half. It does not depend on which class is positive.
* **AUPR-In** = ``average_precision_score(y, s)`` (ID positive) and **AUPR-Out** =
  ``average_precision_score(1 - y, -s)`` (OOD positive, negated scores). Both are the step-wise sums
  ``sum_n (R_n - R_{n-1}) P_n`` over distinct thresholds (not trapezoids) and do not depend on the FPR options.
* **FPR95** is the false-positive rate at 95 % recall of the positive class. Which class is positive matters:

  - ``fpr_positive='id'`` (Hendrycks convention, used by NegLabel, MCM, GL-MCM, TOE, NPOS, CLIPN, PLP): the
    fraction of OOD samples accepted when 95 % of the ID samples are accepted.
  - ``fpr_positive='ood'`` (OpenOOD v1.5, pytorch-ood): the fraction of ID samples rejected when 95 % of the OOD
    samples are caught; computed with OOD as positives and negated scores.

  and so does the rule that picks the operating point on the ROC curve:

  - ``'closest'`` (default; the Hendrycks outlier-exposure routine): scan distinct thresholds from the top,
    keep them down to the first threshold at which recall reaches 1, order them by decreasing recall, append a
    dummy point (recall 1, no false positives) that can never be chosen first, and take the *first* point whose
    recall is closest to the target in floating point. When several thresholds share that recall, this is the
    lowest threshold of the plateau, so every negative above the next-lower positive counts. Note that the
    closest recall can lie below the target (0.9 beats 1.0 for a 0.95 target because
    ``|0.9 - 0.95| < |1.0 - 0.95|`` in binary floating point).
  - ``'interp'`` (CLIPN, PLP): ``np.interp(recall, tpr, fpr)`` on scikit-learn's ``roc_curve``: linear
    interpolation between the last point with TPR <= target and the next one; on an exact hit it returns the
    largest FPR among the points at that TPR.
  - ``'first_ge'`` (OpenOOD): the FPR of the first point of scikit-learn's ``roc_curve`` (default
    ``drop_intermediate=True``, as OpenOOD calls it) whose TPR is >= the target. Dropping the collinear points
    matters with tied scores that straddle the target recall: on the full curve the first point at or above 95 %
    can lie inside a run of ties, on OpenOOD's curve only at its end.

  Constant scores give FPR95 = 1.0 with ``'closest'`` and 0.95 with ``'interp'``; AUROC is then 0.5.
* :func:`ood_metrics` reports **percentages** (x100); :func:`fpr_at_recall` returns a fraction.

All computations run in float64 with scikit-learn.
"""
from typing import Any, Dict

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

__all__ = ['fpr_at_recall', 'ood_metrics']

FPR_RULES = ('closest', 'interp', 'first_ge')
FPR_POSITIVES = ('id', 'ood')


def _to_numpy(scores: Any, name: str) -> np.ndarray:
    """Convert a torch tensor, numpy array or sequence of scores to a 1-D float64 array."""
    if hasattr(scores, 'detach') and hasattr(scores, 'cpu'):  # torch.Tensor, without importing torch
        scores = scores.detach().cpu().double().numpy()
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{name} must be numeric scores (array, list or tensor): {err}') from None
    if arr.ndim == 0:
        raise ValueError(f'{name} must be a 1-D collection of scores, got a scalar.')
    if arr.ndim > 1:
        if sum(n > 1 for n in arr.shape) > 1:
            raise ValueError(f'{name} must be 1-D, got shape {arr.shape}.')
        arr = arr.reshape(-1)
    if arr.size == 0:
        raise ValueError(f'{name} is empty: at least one score is needed.')
    if not np.all(np.isfinite(arr)):
        raise ValueError(f'{name} contains NaN or infinite values.')
    return arr


def _check_option(value: str, valid: tuple, name: str) -> None:
    if value not in valid:
        raise ValueError(f'Unknown {name} {value!r}; valid options are {valid}.')


def _fpr_closest(pos: np.ndarray, neg: np.ndarray, recall: float) -> float:
    """Hendrycks closest-recall rule; ``pos``/``neg`` are higher-is-positive scores."""
    scores = np.concatenate([pos, neg])
    is_pos = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    order = np.argsort(-scores, kind='stable')
    scores, is_pos = scores[order], is_pos[order]
    # last index of each run of equal scores = one threshold per distinct score, highest first
    last_of_run = np.flatnonzero(np.diff(scores) != 0)
    thresh_idx = np.append(last_of_run, scores.size - 1)
    tps = np.cumsum(is_pos)[thresh_idx]
    fps = (thresh_idx + 1) - tps
    rec = tps / pos.size
    # first threshold (from the top) at which every positive is accepted
    full = int(np.searchsorted(tps, tps[-1]))
    keep = slice(full, None, -1)  # from that threshold back up to the top: recall descends
    rec = np.append(rec[keep], 1.0)
    fps = np.append(fps[keep], 0.0)
    cutoff = int(np.argmin(np.abs(rec - recall)))
    return float(fps[cutoff] / neg.size)


def fpr_at_recall(pos_scores: Any, neg_scores: Any, recall: float = 0.95, rule: str = 'closest') -> float:
    """False-positive rate when a fraction ``recall`` of the positives is accepted.

    Samples are accepted as positive when their score is at or above a threshold (higher = more positive).

    Args:
        pos_scores (array-like): Scores of the positive class (numpy array, list or torch tensor), 1-D.
        neg_scores (array-like): Scores of the negative class, 1-D.
        recall (float): Target recall (TPR) in ``(0, 1]``. Defaults to 0.95.
        rule (str): Operating-point rule: ``'closest'`` (Hendrycks closest-recall routine), ``'interp'``
            (``np.interp`` on sklearn's ROC curve) or ``'first_ge'`` (first ROC point with TPR >= recall).
            Defaults to ``'closest'``.

    Returns:
        float: The FPR as a fraction in ``[0, 1]``.

    Raises:
        ValueError: If a score set is empty or not finite, ``recall`` is outside ``(0, 1]`` or ``rule`` is
            unknown.
    """
    _check_option(rule, FPR_RULES, 'fpr_rule')
    recall = float(recall)
    if not 0.0 < recall <= 1.0:
        raise ValueError(f'recall must be in (0, 1], got {recall!r}.')
    pos = _to_numpy(pos_scores, 'pos_scores')
    neg = _to_numpy(neg_scores, 'neg_scores')
    if rule == 'closest':
        return _fpr_closest(pos, neg, recall)
    labels = np.concatenate([np.ones(pos.size, dtype=np.int64), np.zeros(neg.size, dtype=np.int64)])
    scores = np.concatenate([pos, neg])
    if rule == 'interp':
        fpr, tpr, _ = roc_curve(labels, scores)
        return float(np.interp(recall, tpr, fpr))
    fpr, tpr, _ = roc_curve(labels, scores)  # OpenOOD's curve: sklearn's default drop_intermediate=True
    return float(fpr[int(np.argmax(tpr >= recall))])


def ood_metrics(id_scores: Any,
                ood_scores: Any,
                fpr_positive: str = 'id',
                fpr_rule: str = 'closest') -> Dict[str, float]:
    """AUROC, FPR95, AUPR-In and AUPR-Out of an ID/OOD score split, in percent.

    Args:
        id_scores (array-like): Scores of the in-distribution samples (higher = more ID), 1-D numpy array,
            list or torch tensor.
        ood_scores (array-like): Scores of the OOD samples, same convention.
        fpr_positive (str): Positive class of FPR95: ``'id'`` (FPR95 = % of OOD accepted at 95 % ID recall;
            every seed method's convention) or ``'ood'`` (FPR95 = % of ID rejected at 95 % OOD recall, with
            negated scores; OpenOOD v1.5). Defaults to ``'id'``.
        fpr_rule (str): ``'closest'``, ``'interp'`` or ``'first_ge'`` (see the module docstring).
            Defaults to ``'closest'``.

    Returns:
        dict: ``{'AUROC', 'FPR95', 'AUPR_IN', 'AUPR_OUT'}`` as Python floats in percent (0-100). AUROC and both
        AUPRs do not depend on ``fpr_positive`` or ``fpr_rule``.

    Raises:
        ValueError: If the ID or the OOD score set is empty (the message names which) or not finite, or an
            option is unknown (the message lists the valid ones).
    """
    _check_option(fpr_positive, FPR_POSITIVES, 'fpr_positive')
    _check_option(fpr_rule, FPR_RULES, 'fpr_rule')
    id_arr = _to_numpy(id_scores, 'id_scores')
    ood_arr = _to_numpy(ood_scores, 'ood_scores')

    labels = np.concatenate([np.ones(id_arr.size, dtype=np.int64), np.zeros(ood_arr.size, dtype=np.int64)])
    scores = np.concatenate([id_arr, ood_arr])
    auroc = roc_auc_score(labels, scores)
    aupr_in = average_precision_score(labels, scores)
    aupr_out = average_precision_score(1 - labels, -scores)
    if fpr_positive == 'id':
        fpr = fpr_at_recall(id_arr, ood_arr, 0.95, fpr_rule)
    else:
        fpr = fpr_at_recall(-ood_arr, -id_arr, 0.95, fpr_rule)
    return dict(
        AUROC=100.0 * float(auroc),
        FPR95=100.0 * float(fpr),
        AUPR_IN=100.0 * float(aupr_in),
        AUPR_OUT=100.0 * float(aupr_out))
