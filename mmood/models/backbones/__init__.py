"""Backbones: the one open_clip wrapper."""
from .open_clip_backbone import (FEATURE_KINDS, MissingWeightsError, OpenCLIPBackbone, PretrainedMismatchError,
                                 register_model_config, resolve_pretrained)

__all__ = ['FEATURE_KINDS', 'MissingWeightsError', 'PretrainedMismatchError', 'OpenCLIPBackbone',
           'register_model_config', 'resolve_pretrained']
