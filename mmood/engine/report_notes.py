"""The header lines of every run's report, the same for a test run and a re-scored run (:func:`run_notes`)."""
from typing import Any, Dict, List, Optional

__all__ = ['run_notes', 'pipeline_of', 'checkpoint_note', 'skipped_note']


def pipeline_of(cfg) -> str:
    """:func:`~mmood.datasets.describe_pipeline` of a config's test pipeline."""
    from ..datasets.transforms import describe_pipeline
    dataset = ((cfg or {}).get('test_dataloader') or {}).get('dataset') or {}
    return describe_pipeline(dataset.get('pipeline'))


def checkpoint_note(record: Optional[Dict[str, Any]]) -> str:
    """The report line on the checkpoint a run loaded (or that it loaded none)."""
    if not record:
        return 'checkpoint: none (the open_clip weights of the config)'
    groups = ', '.join(f'{k} ({v})' for k, v in record['loaded'].get('groups', {}).items())
    return (f'checkpoint: {record["path"]} ({record["bytes"]:,} bytes, sha256 {record["sha256"][:16]}...; loaded '
            f'{record["loaded"].get("keys", 0)} keys: {groups})')


def skipped_note(skipped: List[Dict[str, str]]) -> List[str]:
    """Report lines on unreadable images left out of the metrics (``skip_unreadable=True``)."""
    if not skipped:
        return []
    shown = '; '.join(f'{s["path"]} ({s["set"]})' for s in skipped[:5])
    more = ' ...' if len(skipped) > 5 else ''
    return [f'{len(skipped)} unreadable images left out of the metrics: {shown}{more}']


def run_notes(run_dir: str, model: Any, cfg: Any, primary: str, skipped: List[Dict[str, str]]) -> List[str]:
    """The report header of a run: where it is, its primary score, the checkpoint it loaded, the preprocessing,
    the unreadable images it skipped and the model's own lines (:meth:`OODModel.report_notes`)."""
    return ([f'run: {run_dir}', f'primary score: {primary}', checkpoint_note(model.checkpoint_record),
             f'preprocessing: {pipeline_of(cfg)}'] + skipped_note(skipped) + list(model.report_notes()))
