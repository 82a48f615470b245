"""Runner-side pieces: hooks, loops over cached features, LR schedules, the DDP wrapper."""
from .hooks import OODPrepareHook, OODResultsHook, model_report_notes
from .loops import CachedFeatureTestLoop, CachedFeatureTrainLoop, CachedFeatureValLoop
from .schedulers import WarmupCosineLR, WarmupCosineParamScheduler, warmup_cosine_schedule
from .wrappers import OODDistributedDataParallel

__all__ = [
    'OODPrepareHook', 'OODResultsHook', 'model_report_notes', 'CachedFeatureTestLoop', 'CachedFeatureTrainLoop',
    'CachedFeatureValLoop', 'WarmupCosineLR', 'WarmupCosineParamScheduler', 'warmup_cosine_schedule',
    'OODDistributedDataParallel'
]
