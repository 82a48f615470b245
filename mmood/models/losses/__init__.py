"""Training losses (CLIP contrastive, CLIPN's ITBO + TSO, TOE's outlier exposure, NPOS's synthesis and losses)."""
from .clip_loss import CLIPContrastiveLoss, clip_contrastive_loss, credit_local_rows, gather_features
from .clipn_loss import CLIPNLoss, clipn_loss
from .npos import (LogitNormLoss, NPOSOutlierSynthesis, OutlierRegLoss, boundary_points, kth_neighbour_sqdist,
                   outliers_around, step_seed, synthesize)
from .cider import CIDERLoss, compactness_loss, dispersion_loss, prototype_ema
from .toe_loss import OutlierExposureLoss, add_text_noise, uniform_cross_entropy
from .vos import VirtualOutlierLoss, gaussian_virtual_outliers

__all__ = [
    'CLIPContrastiveLoss', 'clip_contrastive_loss', 'gather_features', 'credit_local_rows', 'CLIPNLoss', 'clipn_loss',
    'OutlierExposureLoss', 'add_text_noise', 'uniform_cross_entropy', 'NPOSOutlierSynthesis', 'LogitNormLoss',
    'OutlierRegLoss', 'kth_neighbour_sqdist', 'boundary_points', 'outliers_around', 'synthesize', 'step_seed',
    'CIDERLoss', 'compactness_loss', 'dispersion_loss', 'prototype_ema', 'VirtualOutlierLoss',
    'gaussian_virtual_outliers'
]
