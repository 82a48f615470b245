"""Registered metrics."""
from .ood_metric import METRIC_NAMES, OODMetric, format_table, fpr_key

__all__ = ['METRIC_NAMES', 'OODMetric', 'format_table', 'fpr_key']
