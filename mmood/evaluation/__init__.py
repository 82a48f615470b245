"""Evaluation: threshold-free OOD metrics (pure functions), the registered ``OODMetric`` and the report writer."""
from .functional import ood_metrics
from .metrics import METRIC_NAMES, OODMetric, format_table, fpr_key
from .report import format_methods_table, write_report

__all__ = ['ood_metrics', 'METRIC_NAMES', 'OODMetric', 'format_table', 'fpr_key', 'write_report',
           'format_methods_table']
