"""Runner-side pieces: hooks."""
from .hooks import OODPrepareHook, OODResultsHook

__all__ = ['OODPrepareHook', 'OODResultsHook']
from .loops import CachedFeatureTestLoop, CachedFeatureTrainLoop, CachedFeatureValLoop  # noqa: F401,E402
from .schedulers import WarmupCosineLR, WarmupCosineParamScheduler, warmup_cosine_schedule  # noqa: F401,E402
