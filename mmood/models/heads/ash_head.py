"""ASH on a :class:`~mmood.models.heads.LinearView`: prune (and fill or sharpen) each sample's ``z``, then the energy.

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.ash`. No fit.
"""
from types import MappingProxyType
from typing import Dict, Optional

from mmpretrain.registry import MODELS
from torch import Tensor

from ...scores.ash import ASH_VARIANTS, ash_shape
from ...utils.errors import ConfigError
from ...utils.options import Range
from .base import Features
from .linear_view import LinearViewHead

__all__ = ['ASHHead']


@MODELS.register_module()
class ASHHead(LinearViewHead):
    """ASH-B / -P / -S (score name ``ash``): ``lse(W ash(z) + b)`` with the view's normaliser of the unshaped ``z``.

    Args:
        percentile: q, the share of entries pruned per sample: k = D − round_half_even(D · q / 100) are kept (90).
        variant: ``'b'`` (binarise: the kept entries get s₁ / k; OpenOOD v1.5's ASH), ``'p'`` (prune only) or
            ``'s'`` (prune, then scale by exp(s₁ / s₂)).
        view: ``'zero_shot'`` (CLIP's zero-shot classifier on ``pre_proj``) or ``'probe'`` (a trained probe).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """
    option_ranges = MappingProxyType(dict(
        percentile=Range(ge=0, lt=100, why='the share of entries pruned; 100 keeps none')))

    def __init__(self, percentile: float = 90.0, variant: str = 'b', view: str = 'zero_shot', templates=None,
                 prefix: str = '', init_cfg: Optional[dict] = None):
        super().__init__(view=view, templates=templates, prefix=prefix, init_cfg=init_cfg)
        if variant not in ASH_VARIANTS:
            raise ConfigError(f'{type(self).__name__}: variant must be one of {ASH_VARIANTS}, got {variant!r}')
        self.score_names = ('ash', )
        self.percentile = float(percentile)
        self.variant = variant

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        view = self._view()

        def score(part: Features) -> Dict[str, Tensor]:
            z = view.features(part, type(self).__name__)
            shaped = ash_shape(z, self.percentile, self.variant)
            return self.scores_as(dict(ash=view.logits(shaped, z).logsumexp(dim=1)))

        return self.chunked(feats, view.num_classes, score)
