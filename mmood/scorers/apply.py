"""Run scorers over cached features: fit on ID-train, score the test split, compute the metrics."""
import logging
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log

from ..evaluation.metrics.ood_metric import OODMetric
from .base import BaseScorer
from .logits import zero_shot_logits

__all__ = ['fit_scorers', 'score_split', 'evaluate_scores', 'required_kinds']


def required_kinds(scorers: Mapping[str, BaseScorer]) -> Tuple[str, ...]:
    """Union of the scorers' feature kinds, ``global`` first (the ID prediction needs it)."""
    kinds = ['global']
    for scorer in scorers.values():
        kinds.extend(scorer.feature_kinds)
    return tuple(dict.fromkeys(kinds))


def fit_scorers(scorers: Mapping[str, BaseScorer], train_feats: Mapping[str, Any], train_labels: Any,
                device: Any = 'cpu') -> None:
    """``fit`` every scorer that needs ID-train statistics.

    Args:
        scorers: name -> scorer.
        train_feats: kind -> (N, ...) array or tensor (memory maps are read here).
        train_labels: (N,) labels.
        device: where the training features go.
    """
    labels = torch.from_numpy(np.array(train_labels, dtype=np.int64))
    loaded: Dict[str, torch.Tensor] = {}
    for name, scorer in scorers.items():
        if not scorer.requires_fit:
            continue
        for kind in scorer.feature_kinds:
            if kind not in loaded:
                loaded[kind] = torch.from_numpy(np.array(train_feats[kind], dtype=np.float32)).to(device)
        print_log(f'{name}: fitting on {labels.shape[0]} ID-train features', logger='current', level=logging.INFO)
        scorer.fit({k: loaded[k] for k in scorer.feature_kinds}, labels.to(device))


def score_split(scorers: Mapping[str, BaseScorer], split: Any, id_text: torch.Tensor, logit_scale: float,
                batch_size: int, device: Any = 'cpu', progress: bool = False
                ) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Score every sample of a :class:`~mmood.features.FeatureSplit` with every scorer.

    Batches are consecutive rows in dataset order; with ``batch_size = test_dataloader.batch_size`` they are the
    batches of a single-process test run, so every function sees exactly the inputs it saw there.

    Returns:
        ``(scores, preds)``: name -> (N,) float32 scores (higher = more ID), and the zero-shot classifier's
        predicted class per sample (argmax of its softmax, as ``CLIPOODClassifier.predict``).
    """
    kinds = required_kinds(scorers)
    out = {name: [] for name in scorers}
    preds = []
    batches = split.iter_batches(kinds, batch_size, device)
    if progress:
        from tqdm import tqdm
        batches = tqdm(batches, total=(len(split) + batch_size - 1) // batch_size, desc='scoring', unit='batch')
    id_text = id_text.to(device)
    with torch.no_grad():
        for feats in batches:
            logits = zero_shot_logits(feats['global'], id_text, logit_scale)
            preds.append(logits.float().softmax(dim=1).argmax(dim=1).cpu())
            for name, scorer in scorers.items():
                out[name].append(scorer.score(feats).detach().float().reshape(-1).cpu())
    scores = {name: torch.cat(chunks).numpy() for name, chunks in out.items()}
    return scores, torch.cat(preds).numpy()


def evaluate_scores(scores: Mapping[str, np.ndarray], set_ids: np.ndarray, set_names: Sequence[str],
                    set_groups: Optional[Sequence[str]], labels: np.ndarray, preds: np.ndarray,
                    fpr_positive: str = 'id', fpr_rule: str = 'closest') -> Dict[str, Dict[str, float]]:
    """Metrics of every method through :meth:`OODMetric.calculate` (the test run's metric code)."""
    return {name: OODMetric.calculate(s, set_ids, set_names, set_groups, labels, preds, fpr_positive, fpr_rule)
            for name, s in scores.items()}
