"""Re-scoring cached features with heads, without a Runner (``tools/score.py``).

A *method* is either ``config`` -- the classifier's own heads, scored through
:meth:`CLIPOODClassifier.scores_from_features`, the very function ``tools/test.py`` scores images with -- or a
short name of :data:`mmood.models.heads.METHODS` built with :func:`~mmood.models.heads.build_method`. Every
method may give several named scores; results are named ``<method>`` (its primary score) and
``<method>/<score>`` for each score when it has more than one (``config/msp``, ``config/energy``...).

Batches are consecutive rows of the cached split in dataset order; with ``test_dataloader.batch_size`` they are
the batches of a single-process test run, so every head sees exactly the inputs it saw there and ``config``
reproduces the test run's ``metrics.json`` bit for bit.
"""
import logging
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log

from ..evaluation import OODMetric, metrics_of
from ..models.heads import build_method, score_pairs

__all__ = ['Method', 'build_methods', 'required_kinds', 'fit_methods', 'score_split', 'evaluate_methods']

CONFIG = 'config'


class Method:
    """One method of a re-scoring run: its heads, score names and primary score.

    Args:
        name: ``'config'`` or a short method name.
        heads: the (prepared) heads.
        primary: the primary score's name.
        model: the classifier (``config`` scores through it).
    """

    def __init__(self, name: str, heads: Sequence[Any], primary: str, model: Any = None):
        self.name = name
        self.heads = list(heads)
        self.primary = primary
        self.model = model

    @property
    def score_names(self) -> List[str]:
        names = [n for h in self.heads for n in h.score_names]
        return [self.primary] + [n for n in names if n != self.primary]

    @property
    def replicates(self) -> Dict[str, List[str]]:
        """Base name -> score names that are repeated runs of one score (the heads' ``replicates``, merged)."""
        out: Dict[str, List[str]] = {}
        for head in self.heads:
            out.update((b, list(names)) for b, names in (getattr(head, 'replicates', {}) or {}).items())
        return out

    @property
    def feature_kinds(self) -> Tuple[str, ...]:
        return tuple(dict.fromkeys(k for h in self.heads for k in h.feature_kinds))

    def report_names(self) -> List[str]:
        """Result names of a report: the method (its primary score), then ``<method>/<score>`` of the others."""
        return [self.name] + [f'{self.name}/{n}' for n in self.score_names if n != self.primary]

    def score_batch(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Named scores of the sample-level heads on one batch."""
        if self.model is not None:
            return self.model.scores_from_features(feats)[1]
        out = {}
        for head in self.heads:
            if not head.set_level:
                out.update(head(feats))
        return out


def build_methods(model: Any, names: Sequence[str], options: Optional[Mapping[str, dict]] = None,
                  work_dir: Optional[str] = None) -> Dict[str, Method]:
    """Build and prepare the methods (``config`` = the model's heads) with the model's head context."""
    options = dict(options or {})
    ctx = model.head_context(work_dir)
    out = OrderedDict()
    for name in names:
        if name == CONFIG:
            if options.get(CONFIG):
                raise ValueError('"config" takes its options from the config: use --cfg-options model.head.X=...')
            out[name] = Method(name, model.heads, model.primary_score, model)
            continue
        head = build_method(name, options.get(name)).to(ctx.device)
        head.prepare(ctx)
        out[name] = Method(name, [head], head.primary)
    return out


def required_kinds(methods: Mapping[str, Method], model: Any) -> Tuple[str, ...]:
    """Union of the feature kinds, ``global`` first (the ID prediction needs the model's kinds)."""
    kinds = list(model.feature_kinds)
    for method in methods.values():
        kinds.extend(method.feature_kinds)
    return tuple(dict.fromkeys(kinds))


def fit_methods(methods: Mapping[str, Method], train_feats: Mapping[str, Any], train_labels: Any,
                device: Any = 'cpu') -> None:
    """``fit`` every head that needs ID-train statistics on the (cached) ID-train features."""
    labels = torch.from_numpy(np.array(train_labels, dtype=np.int64)).to(device)
    loaded: Dict[str, torch.Tensor] = {}
    for method in methods.values():
        for head in method.heads:
            if not head.requires_fit or getattr(head, 'fitted', False):
                continue
            for kind in head.feature_kinds:
                if kind not in loaded:
                    loaded[kind] = torch.from_numpy(np.array(train_feats[kind], dtype=np.float32)).to(device)
            print_log(f'{method.name}: fitting {type(head).__name__} on {labels.shape[0]} ID-train features',
                      logger='current', level=logging.INFO)
            head.fit({k: loaded[k] for k in head.feature_kinds}, labels)


def score_split(methods: Mapping[str, Method], model: Any, split: Any, batch_size: int, device: Any = 'cpu',
                progress: bool = False) -> Tuple[Dict[str, Dict[str, np.ndarray]], np.ndarray]:
    """Score every sample of a :class:`~mmood.features.FeatureSplit` with every method.

    Returns:
        ``(scores, preds)``: method -> score name -> (N,) float64 scores, or (num_ood_sets, N) per-pair scores of
        set-level heads; and the classifier's predicted class per sample (``model.class_logits`` argmax, as
        ``CLIPOODClassifier.predict``).
    """
    kinds = required_kinds(methods, model)
    chunks = {m: {} for m in methods}
    preds = []
    batches = split.iter_batches(kinds, batch_size, device)
    if progress:
        from tqdm import tqdm
        batches = tqdm(batches, total=(len(split) + batch_size - 1) // batch_size, desc='scoring', unit='batch')
    with torch.no_grad():
        for feats in batches:
            logits = model.class_logits(feats)
            preds.append(logits.float().softmax(dim=1).argmax(dim=1).cpu())
            for name, method in methods.items():
                for score, value in method.score_batch(feats).items():
                    chunks[name].setdefault(score, []).append(value.detach().float().reshape(-1).cpu())
    scores = {name: {s: torch.cat(c).double().numpy() for s, c in per.items()} for name, per in chunks.items()}
    set_heads = [(name, h) for name, m in methods.items() for h in m.heads if h.set_level]
    if set_heads:
        set_kinds = tuple(dict.fromkeys(k for _, h in set_heads for k in h.feature_kinds))
        whole = {k: torch.from_numpy(split.rows(k, 0, len(split))) for k in set_kinds}
        for name, head in set_heads:
            scores[name].update(score_pairs(head, whole, split.set_ids, device))
    return scores, torch.cat(preds).numpy()


def evaluate_methods(methods: Mapping[str, Method], scores: Mapping[str, Mapping[str, np.ndarray]], split: Any,
                     preds: np.ndarray, conventions: Sequence[Sequence[str]] = (('id', 'closest'), )
                     ) -> Tuple[Dict[str, Dict[str, float]], Dict[str, Dict[str, float]], Dict[str, np.ndarray]]:
    """Metrics through :meth:`OODMetric.calculate_named` (the test run's metric code).

    Returns:
        ``(metrics, tables, flat_scores)``. ``metrics``: ``<method>`` -> the method's full metric dict (every score
        under ``<score>/``, the primary one also unprefixed: for ``config`` equal to the test run's
        ``metrics.json``; a one-score method other than ``config`` keeps only the plain keys), and, for methods
        with several scores, ``<method>/<score>`` -> that score's plain metrics. ``tables``: result name -> plain
        metrics (what report rows show). ``flat_scores``: result name -> scores. A method whose heads have
        ``replicates`` also gets their ``<base>/seeds/...`` mean ± std keys (``seeds/...`` in the base's table).
    """
    metrics, tables, flat = OrderedDict(), OrderedDict(), OrderedDict()
    for name, method in methods.items():
        per_score = OrderedDict((s, scores[name][s]) for s in method.score_names)
        full = OODMetric.calculate_named(per_score, method.primary, split.set_ids, split.set_names,
                                         split.set_groups, split.labels, preds, conventions,
                                         replicates=method.replicates)
        tables[name], flat[name] = metrics_of(full, method.primary), per_score[method.primary]
        metrics[name] = full if (name == CONFIG or len(per_score) > 1) else tables[name]
        if len(per_score) > 1:
            for score in method.score_names:
                result = f'{name}/{score}'
                metrics[result] = tables[result] = metrics_of(full, score)
                flat[result] = per_score[score]
    return metrics, tables, flat
