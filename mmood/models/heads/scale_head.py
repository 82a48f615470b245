"""SCALE on a :class:`~mmood.models.heads.LinearView`: scale ``z`` by ASH-S's factor ``e^r``, then the energy.

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.scale`. No fit. In CLIP's
zero-shot view the normaliser is that of the unscaled ``z`` (frozen), so the rescale reaches the logits.
"""
from types import MappingProxyType
from typing import Dict, Optional

from mmpretrain.registry import MODELS
from torch import Tensor

from ...scores.scale import scale_shape
from ...utils.options import Range
from .base import Features
from .linear_view import LinearViewHead

__all__ = ['SCALEHead']


@MODELS.register_module()
class SCALEHead(LinearViewHead):
    """SCALE (score name ``scale``): ``lse(e^r W z + b)`` with the view's normaliser of the unscaled ``z``.

    Args:
        percentile: q; r = s₁ / s₂ with s₂ the sum of the k = D − round_half_even(D · q / 100) largest entries (85).
        view: ``'zero_shot'`` (CLIP's zero-shot classifier on ``pre_proj``) or ``'probe'`` (a trained probe).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """
    option_ranges = MappingProxyType(dict(
        percentile=Range(ge=0, lt=100, why='the share of entries left out of s2; 100 leaves none')))

    def __init__(self, percentile: float = 85.0, view: str = 'zero_shot', templates=None, prefix: str = '',
                 init_cfg: Optional[dict] = None):
        super().__init__(view=view, templates=templates, prefix=prefix, init_cfg=init_cfg)
        self.score_names = ('scale', )
        self.percentile = float(percentile)

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        view = self._view()

        def score(part: Features) -> Dict[str, Tensor]:
            z = view.features(part, type(self).__name__)
            return self.scores_as(dict(scale=view.logits(scale_shape(z, self.percentile), z).logsumexp(dim=1)))

        return self.chunked(feats, view.num_classes, score)
