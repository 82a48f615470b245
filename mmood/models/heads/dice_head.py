"""DICE on a :class:`~mmood.models.heads.LinearView`: mask ``W`` by the ID-train contributions, then the energy.

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.dice`. The mean ``m`` is
fitted on the config's ID-train features (as OpenOOD v1.5); the mask is a function of (m, W, p), recomputed when
``percentile`` or the view changes.
"""
from types import MappingProxyType
from typing import Dict, Optional

from mmpretrain.registry import MODELS
from torch import Tensor

from ...scores.dice import dice_mask, dice_mean
from ...utils.options import Range
from .base import Features
from .linear_view import LinearViewHead

__all__ = ['DICEHead']


@MODELS.register_module()
class DICEHead(LinearViewHead):
    """DICE (score name ``dice``): ``lse((M ⊙ W) z + b)`` with the view's normaliser; fitted (``m``).

    Args:
        percentile: p, the percentile of the C · D contributions m ⊙ W above which weights are kept (90).
        view: ``'zero_shot'`` (CLIP's zero-shot classifier on ``pre_proj``) or ``'probe'`` (a trained probe).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """
    requires_fit = True
    fit_state_names = ('mean', )
    #: the fit is the mean ``m``; the mask of ``percentile`` is recomputed from it
    fit_independent_options = LinearViewHead.fit_independent_options + ('percentile', )
    option_ranges = MappingProxyType(dict(
        percentile=Range(ge=0, lt=100, why='a percentile of the contributions; 100 keeps no weight')))

    def __init__(self, percentile: float = 90.0, view: str = 'zero_shot', templates=None, prefix: str = '',
                 init_cfg: Optional[dict] = None):
        super().__init__(view=view, templates=templates, prefix=prefix, init_cfg=init_cfg)
        self.score_names = ('dice', )
        self.percentile = float(percentile)
        self.mean: Optional[Tensor] = None
        self._masked = None  # (percentile, view, M ⊙ W)
        self.fitted = False

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'DICEHead':
        """``m`` = the per-dimension mean of the ID-train ``z`` (float64); labels unused."""
        self.mean = dice_mean(self._view().features(feats, type(self).__name__))
        self._masked = None
        self.fitted = True
        return self

    def load_fit_state(self, state, device=None) -> 'DICEHead':
        super().load_fit_state(state, device)
        self._masked = None
        return self

    def masked_weight(self) -> Tensor:
        """``M ⊙ W`` (C, D) float64 of the current view and percentile."""
        view = self._view()
        if not self.fitted:
            raise RuntimeError(f'{type(self).__name__}.fit(id_train_features) must run before scoring')
        if self._masked is None or self._masked[:2] != (self.percentile, view):
            mask = dice_mask(self.mean, view.weight, self.percentile)
            self._masked = (self.percentile, view, view.weight * mask.to(view.weight.dtype))
        return self._masked[2]

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        view, weight = self._view(), self.masked_weight()

        def score(part: Features) -> Dict[str, Tensor]:
            z = view.features(part, type(self).__name__)
            return self.scores_as(dict(dice=view.logits(z, weight=weight).logsumexp(dim=1)))

        return self.chunked(feats, view.num_classes, score)
