"""What the hooks share: the model behind a wrapper, the evaluator's OOD metrics."""
from typing import List

from mmengine.model import is_model_wrapper

from ...evaluation import OODMetric

__all__ = ['unwrap', 'ood_metrics_of']


def unwrap(model):
    """The model inside a DDP wrapper (or the model itself)."""
    return model.module if is_model_wrapper(model) else model


def ood_metrics_of(evaluator) -> List[OODMetric]:
    """The :class:`~mmood.evaluation.OODMetric` instances of an evaluator."""
    return [m for m in (evaluator.metrics if evaluator is not None else []) if isinstance(m, OODMetric)]
