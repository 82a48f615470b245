"""Training losses (CLIP contrastive, outlier exposure, ...)."""
from .clip_loss import CLIPContrastiveLoss, clip_contrastive_loss, gather_features

__all__ = ['CLIPContrastiveLoss', 'clip_contrastive_loss', 'gather_features']
