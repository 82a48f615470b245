"""Evaluation: threshold-free OOD metrics (pure functions) and the registered ``OODMetric``."""
from .functional import ood_metrics
from .metrics import METRIC_NAMES, OODMetric, format_table, fpr_key

__all__ = ['ood_metrics', 'METRIC_NAMES', 'OODMetric', 'format_table', 'fpr_key']
