"""The CIFAR ResNet trained from scratch by NPOS (Tao et al., ICLR 2023, arXiv 2303.02966, Sec. 4.2) and CIDER
(Ming et al., ICLR 2023), as an image-only :class:`~mmood.models.backbones.BaseOODBackbone`.

The network is MMPretrain's ``ResNet_CIFAR``, which is the reference's ``SupCEHeadResNet`` encoder layer for layer:
a 3x3 / stride 1 / padding 1 stem conv without bias, BN, ReLU and **no max-pool**; BasicBlock stages of widths
64/128/256/512 with strides 1/2/2/2 ([2,2,2,2] = ResNet-18, [3,4,6,3] = ResNet-34); a 1x1 conv + BN shortcut where
the stride or the width changes; kaiming-normal (fan_out, relu) convs and BN γ = 1, β = 0. Only
``zero_init_residual`` differs from OpenMMLab's default and is set False here, as the reference. The feature is the
mean-pooled last stage, ``h ∈ R^512`` (post-ReLU)::

    pre_proj = embed = h        (raw, B x 512)
    global   = h / ||h||        (the KNN score's feature, docs/npos.md "From scratch")

The backbone has no text tower (``has_text = False``): the heads that read text refuse it.
"""
from typing import Dict, Iterable, Optional, Sequence

import torch
import torch.nn.functional as F
from mmpretrain.models import ResNet_CIFAR
from mmpretrain.registry import MODELS

from ...utils.errors import ConfigError
from .base import BaseOODBackbone

__all__ = ['CIFARResNetBackbone', 'CIFAR_RESNET_DEPTHS']

#: depth -> BasicBlock counts per stage (the reference's ResNet-18 / ResNet-34)
CIFAR_RESNET_DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


@MODELS.register_module()
class CIFARResNetBackbone(BaseOODBackbone):
    """CIFAR ResNet-18 / -34 (module docstring), randomly initialised (trained from scratch).

    Args:
        depth: 18 or 34.
        base_channels: width of the first stage (64; the stages are 1x, 2x, 4x, 8x of it). A smaller width is for
            tests only.
        num_stages: 4 (fewer only for tests; the feature width is ``base_channels * 2**(num_stages - 1)``).
        init_cfg: mmengine init config (default: MMPretrain's ResNet initialisation, as the reference's).
    """

    has_text = False
    frozen = False
    feature_kinds = ('global', 'pre_proj', 'embed')

    def __init__(self, depth: int = 18, base_channels: int = 64, num_stages: int = 4,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=None)
        if int(depth) not in CIFAR_RESNET_DEPTHS:
            raise ConfigError(f'CIFARResNetBackbone: depth must be one of {sorted(CIFAR_RESNET_DEPTHS)} (the '
                              f'reference\'s BasicBlock ResNets), got {depth}')
        self.depth, self.base_channels, self.num_stages = int(depth), int(base_channels), int(num_stages)
        kwargs = dict(depth=self.depth, in_channels=3, stem_channels=self.base_channels,
                      base_channels=self.base_channels, num_stages=self.num_stages,
                      strides=(1, 2, 2, 2)[:self.num_stages], dilations=(1, ) * self.num_stages,
                      out_indices=(self.num_stages - 1, ), zero_init_residual=False)
        if init_cfg is not None:
            kwargs['init_cfg'] = init_cfg
        self.resnet = ResNet_CIFAR(**kwargs)
        self.width = self.base_channels * 2 ** (self.num_stages - 1)

    @classmethod
    def weights_report(cls, cfg: dict) -> str:
        return f'CIFARResNetBackbone depth {cfg.get("depth", 18)}: random initialisation (trained from scratch)'

    @property
    def identity(self) -> dict:
        return dict(type='CIFARResNetBackbone', depth=self.depth, base_channels=self.base_channels,
                    num_stages=self.num_stages, checkpoint=self.loaded_checkpoint)

    @property
    def embed_dim(self) -> int:
        return self.width

    @property
    def stage_blocks(self) -> Sequence[int]:
        return CIFAR_RESNET_DEPTHS[self.depth][:self.num_stages]

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        """``h``: the mean-pooled last stage (B, width), float32 (float64 for a float64 model)."""
        h = self.resnet(images)[-1].mean(dim=(2, 3))
        return h if h.dtype == torch.float64 else h.float()

    def extract_image_features(self, images: torch.Tensor,
                               kinds: Iterable[str] = ('global', )) -> Dict[str, torch.Tensor]:
        kinds = self.check_kinds(kinds)
        h = self.pooled(images)
        out = {}
        for kind in kinds:
            out[kind] = F.normalize(h, dim=-1) if kind == 'global' else h
        return out
