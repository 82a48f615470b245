"""Backbones: the one open_clip wrapper, and CLIPN's "no" text tower built from its model."""
from .base import BaseOODBackbone
from .open_clip_backbone import (FEATURE_KINDS, MissingWeightsError, OpenCLIPBackbone, PretrainedMismatchError,
                                 locate_weights, register_model_config, resolve_pretrained)
from .no_text_tower import NoTextEncoder, NoTextTower, split_official_clipn_state
from .hf_backbone import HFVLMBackbone
from .hf_convert import hf_clip_to_open_clip
from .cifar_resnet import CIFAR_RESNET_DEPTHS, CIFARResNetBackbone
from .timm_backbone import TimmBackbone, timm_preprocessing

__all__ = ['BaseOODBackbone', 'FEATURE_KINDS', 'MissingWeightsError', 'PretrainedMismatchError', 'OpenCLIPBackbone',
           'register_model_config', 'resolve_pretrained', 'locate_weights', 'NoTextTower', 'NoTextEncoder',
           'split_official_clipn_state', 'HFVLMBackbone', 'hf_clip_to_open_clip',
           'CIFARResNetBackbone', 'CIFAR_RESNET_DEPTHS', 'TimmBackbone', 'timm_preprocessing']
