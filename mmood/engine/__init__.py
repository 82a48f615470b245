"""Runner-side pieces: hooks, loops over cached features, re-scoring cached features, LR schedules, the DDP
wrapper."""
from .hooks import (DatasetEpochHook, OODPrepareHook, OODResultsHook, fit_heads_from_cache, model_report_notes,
                    ood_metric_of, pipeline_of, release_instances, release_runner_instances)
from .loops import CachedFeatureTestLoop, CachedFeatureTrainLoop, CachedFeatureValLoop, OODTestLoop, ensure_features
from .schedulers import WarmupCosineLR, WarmupCosineParamScheduler, warmup_cosine_schedule
from .wrappers import OODDistributedDataParallel

__all__ = [
    'OODPrepareHook', 'OODResultsHook', 'DatasetEpochHook', 'fit_heads_from_cache', 'model_report_notes',
    'ood_metric_of', 'pipeline_of', 'release_runner_instances', 'release_instances',
    'CachedFeatureTestLoop', 'CachedFeatureTrainLoop', 'CachedFeatureValLoop', 'OODTestLoop', 'ensure_features',
    'WarmupCosineLR',
    'WarmupCosineParamScheduler', 'warmup_cosine_schedule', 'OODDistributedDataParallel'
]
