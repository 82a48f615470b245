"""mmengine models tying backbone, text and head together."""
from .clip_ood import CLIP_MEAN, CLIP_STD, CLIPOODClassifier, clip_data_preprocessor

__all__ = ['CLIP_MEAN', 'CLIP_STD', 'CLIPOODClassifier', 'clip_data_preprocessor']
from .clip_contrastive import CLIPContrastiveModel, export_open_clip_weights, open_clip_state_dict  # noqa: F401,E501
from .linear_probe import FeatureClsDataPreprocessor, LinearProbeClassifier  # noqa: F401,E402
