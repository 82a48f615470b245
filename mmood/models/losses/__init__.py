"""Training losses (CLIP contrastive, CLIPN's ITBO + TSO, ...)."""
from .clip_loss import CLIPContrastiveLoss, clip_contrastive_loss, credit_local_rows, gather_features
from .clipn_loss import CLIPNLoss, clipn_loss

__all__ = [
    'CLIPContrastiveLoss', 'clip_contrastive_loss', 'gather_features', 'credit_local_rows', 'CLIPNLoss', 'clipn_loss'
]
