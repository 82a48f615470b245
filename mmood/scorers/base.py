"""Scorer protocol, scoring context, and building scorers by name from the ``SCORERS`` registry."""
import ast
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from ..registry import SCORERS

__all__ = ['ScorerContext', 'BaseScorer', 'build_scorer', 'parse_method_options', 'list_scorers']

Features = Union[Tensor, Mapping[str, Tensor]]


@dataclass
class ScorerContext:
    """What scorers may need besides the features: the zero-shot classifier's text side.

    Attributes:
        id_text: (K, D) unit ID class prototypes (the zero-shot classifier's weights).
        logit_scale: the classifier's logit scale (100 for OpenAI CLIP configs).
        model: the prepared ``CLIPOODClassifier`` (needed by head-based scorers for the text tower), or None.
        class_names: ID class names.
        templates: the ID prompt templates.
        cache: the shared :class:`~mmood.cache.CacheStore` (text embeddings, negatives), or None.
        work_dir: where scorers may write records (e.g. NegLabel's negatives), or None.
        batch_size: texts per forward pass when a scorer encodes prompts.
    """
    id_text: Tensor
    logit_scale: float = 100.0
    model: Any = None
    class_names: Optional[List[str]] = None
    templates: Optional[List[str]] = None
    cache: Any = None
    work_dir: Optional[str] = None
    batch_size: int = 1000

    @classmethod
    def from_model(cls, model: Any, work_dir: Optional[str] = None) -> 'ScorerContext':
        """Context of a ``CLIPOODClassifier`` (prepared here if needed)."""
        from ..cache import CacheStore
        model.prepare(work_dir=work_dir)
        scale = float(model.logit_scale) if model.logit_scale is not None else float(model.backbone.logit_scale)
        return cls(id_text=model.id_text, logit_scale=scale, model=model, class_names=list(model.class_names),
                   templates=list(model.templates), cache=CacheStore(model.cache_dir) if model.cache_dir else None,
                   work_dir=work_dir, batch_size=model.text_batch_size)

    @property
    def backbone(self) -> Any:
        if self.model is None:
            raise ValueError('This scorer needs the CLIP text tower: build the context with ScorerContext.from_model')
        return self.model.backbone

    @property
    def device(self) -> torch.device:
        return self.id_text.device

    @property
    def num_classes(self) -> int:
        return int(self.id_text.shape[0])


class BaseScorer:
    """A post-hoc OOD scorer: features in, one score per sample out, **higher = more in-distribution**.

    Life cycle: ``prepare(ctx)`` (text-side state: ID prototypes, negatives), then ``fit(feats, labels)`` for
    scorers with :attr:`requires_fit` (ID-train statistics: KNN bank, Gaussians), then ``score(feats)`` on any
    number of batches. Scorers are thin: the maths lives in the pure functions of :mod:`mmood.scores`.
    """

    #: feature kinds read by :meth:`score` (``global``, ``local``, ``pre_proj``).
    feature_kinds: Tuple[str, ...] = ('global', )
    #: whether :meth:`fit` on ID-train features is needed before scoring.
    requires_fit: bool = False

    def prepare(self, ctx: ScorerContext) -> 'BaseScorer':
        """Build text-side state from the scoring context (default: nothing)."""
        return self

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'BaseScorer':
        """Fit ID-train statistics.

        Args:
            feats: ID-train features, a tensor of the scorer's feature kind or a dict of kinds.
            labels: (N,) integer class labels.
        """
        return self

    def score(self, feats: Features) -> Tensor:
        """Scores (N,) of a batch of features (a tensor of the scorer's kind or a dict of kinds)."""
        raise NotImplementedError

    def __call__(self, feats: Features) -> Tensor:
        return self.score(feats)

    def _kind(self, feats: Features, kind: str) -> Tensor:
        if isinstance(feats, Tensor):
            return feats
        if kind not in feats:
            raise KeyError(f'{type(self).__name__} needs "{kind}" features; got {sorted(feats)}')
        return feats[kind]


def list_scorers() -> List[str]:
    """Registered scorer names (lower-case method names, e.g. ``msp``, ``knn``)."""
    import mmood.scorers  # noqa: F401  (registers)
    return sorted(name for name in SCORERS.module_dict if name == name.lower())


def build_scorer(name: str, options: Optional[Dict[str, Any]] = None) -> BaseScorer:
    """Build the scorer registered under ``name`` with keyword ``options``.

    Raises:
        KeyError: unknown method (the message lists the registered ones).
    """
    import mmood.scorers  # noqa: F401  (registers)
    cls = SCORERS.get(name)  # looked up directly: the runner's default scope (mmpretrain) is not SCORERS'
    if cls is None:
        raise KeyError(f'Unknown OOD scoring method "{name}"; registered methods: {list_scorers()}')
    try:
        return cls(**(options or {}))
    except TypeError as err:
        raise TypeError(f'Invalid options {options} for method "{name}" ({cls.__name__}): {err}') from None


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_method_options(items: Optional[Sequence[str]]) -> Dict[str, Dict[str, Any]]:
    """``['knn.k=100', 'energy.temperature=2']`` -> ``{'knn': {'k': 100}, 'energy': {'temperature': 2}}``.

    Values are Python literals when they parse as one (numbers, booleans, None, lists), else strings.

    Raises:
        ValueError: an item is not of the form ``method.option=value``.
    """
    out: Dict[str, Dict[str, Any]] = {}
    for item in items or ():
        name, sep, value = item.partition('=')
        method, dot, option = name.partition('.')
        if not sep or not dot or not method or not option:
            raise ValueError(f'Method option "{item}" must look like method.option=value (e.g. knn.k=100)')
        out.setdefault(method, {})[option] = _literal(value)
    return out
