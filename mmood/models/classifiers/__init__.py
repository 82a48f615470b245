"""mmengine models tying backbone, text and head together."""
from .clip_ood import CLIP_MEAN, CLIP_STD, CLIPOODClassifier, clip_data_preprocessor
from .clip_contrastive import CLIPContrastiveModel, export_open_clip_weights, open_clip_state_dict
from .plp import FeatureClsDataPreprocessor, LinearProbeClassifier
from .pretrained_head import PretrainedHeadClassifier
from .clipn import CLIPNClassifier
from .toe import TOEClassifier
from .toe_word_decoder import TOEWordDecoder
from .toe_study import TOEStudyClassifier
from .npos import NPOSClassifier
from .npos_cifar import MultiViewDataPreprocessor, NPOSCIFARClassifier
from .odin import ODINClassifier
from .gpu_decode import GPUDecodeDataPreprocessor, jpeg_decoder, pil_jpeg_decoder

__all__ = [
    'CLIP_MEAN', 'CLIP_STD', 'CLIPOODClassifier', 'clip_data_preprocessor', 'CLIPContrastiveModel',
    'export_open_clip_weights', 'open_clip_state_dict', 'FeatureClsDataPreprocessor', 'LinearProbeClassifier',
    'CLIPNClassifier', 'TOEClassifier', 'NPOSClassifier', 'GPUDecodeDataPreprocessor', 'jpeg_decoder',
    'pil_jpeg_decoder', 'TOEWordDecoder', 'TOEStudyClassifier', 'ODINClassifier', 'PretrainedHeadClassifier',
    'NPOSCIFARClassifier', 'MultiViewDataPreprocessor'
]
