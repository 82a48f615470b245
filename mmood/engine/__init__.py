"""Runner-side pieces: hooks (one per file), loops over cached features, the runner-less scoring of cached features,
report notes, LR schedules, the DDP wrapper."""
from .hooks import (OOD_HOOKS, DatasetEpochHook, IntraOpThreadsHook, OODPrepareHook, OODResultsHook,
                    SaveFeaturesHook, SetLevelScoresHook, fit_heads_from_cache, ood_metrics_of)
from .fitting import fit_heads_cached
from .instances import release_instances, release_runner_instances
from .loops import CachedFeatureTestLoop, CachedFeatureTrainLoop, CachedFeatureValLoop, OODTestLoop, ensure_features
from .report_notes import checkpoint_note, pipeline_of, run_notes, skipped_note
from .schedulers import WarmupCosineLR, WarmupCosineParamScheduler, warmup_cosine_schedule
from .wrappers import OODDistributedDataParallel

__all__ = [
    'fit_heads_cached', 'OODPrepareHook', 'OODResultsHook', 'SetLevelScoresHook', 'SaveFeaturesHook',
    'DatasetEpochHook', 'IntraOpThreadsHook', 'OOD_HOOKS', 'fit_heads_from_cache', 'ood_metrics_of', 'pipeline_of',
    'checkpoint_note', 'skipped_note', 'run_notes', 'release_runner_instances', 'release_instances',
    'CachedFeatureTestLoop', 'CachedFeatureTrainLoop', 'CachedFeatureValLoop', 'OODTestLoop', 'ensure_features',
    'WarmupCosineLR', 'WarmupCosineParamScheduler', 'warmup_cosine_schedule', 'OODDistributedDataParallel'
]
