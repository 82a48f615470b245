"""Evaluation: threshold-free OOD metrics (pure functions), the registered ``OODMetric``, reports, run merging."""
from .functional import fpr_at_recall, ood_metrics
from .merge import merge_metrics, write_merged_report
from .metrics import METRIC_NAMES, OODMetric, check_score_names, format_table, fpr_key, metrics_of, pair_row
from .report import format_methods_table, write_report
from .results import RESULT_COLUMNS, ScoredSamples, evaluate_samples, score_columns, summary_lines, write_results

__all__ = ['ood_metrics', 'fpr_at_recall', 'METRIC_NAMES', 'OODMetric', 'format_table', 'fpr_key', 'metrics_of',
           'pair_row', 'check_score_names', 'write_report', 'format_methods_table', 'merge_metrics',
           'write_merged_report', 'RESULT_COLUMNS', 'ScoredSamples', 'evaluate_samples', 'score_columns',
           'summary_lines', 'write_results']
