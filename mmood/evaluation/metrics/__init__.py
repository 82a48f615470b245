"""Registered metrics."""
from .ood_metric import METRIC_NAMES, OODMetric, check_score_names, format_table, fpr_key, metrics_of, pair_row

__all__ = ['METRIC_NAMES', 'OODMetric', 'format_table', 'fpr_key', 'metrics_of', 'pair_row', 'check_score_names']
