"""ReAct on a :class:`~mmood.models.heads.LinearView`: clip ``z`` at the ID percentile ``c``, then the energy.

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.react`. ``c`` is fitted on
the config's ID-train features (OpenOOD v1.5 fits it on ID-val; docs/react.md).
"""
from types import MappingProxyType
from typing import Dict, Optional

from mmpretrain.registry import MODELS
from torch import Tensor

from ...scores.react import react_shape, react_threshold
from ...utils.options import Range
from .base import Features
from .linear_view import LinearViewHead

__all__ = ['ReActHead']


@MODELS.register_module()
class ReActHead(LinearViewHead):
    """ReAct (score name ``react``): ``lse(W min(z, c) + b)`` with the view's normaliser; fitted (``c``).

    Args:
        percentile: q, the percentile of all ID-train activations that gives the clip ``c`` (90).
        view: ``'zero_shot'`` (CLIP's zero-shot classifier on ``pre_proj``) or ``'probe'`` (a trained probe).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """
    requires_fit = True
    fit_state_names = ('threshold', )
    option_ranges = MappingProxyType(dict(percentile=Range(ge=0, le=100, why='a percentile of the ID activations')))

    def __init__(self, percentile: float = 90.0, view: str = 'zero_shot', templates=None, prefix: str = '',
                 init_cfg: Optional[dict] = None):
        super().__init__(view=view, templates=templates, prefix=prefix, init_cfg=init_cfg)
        self.score_names = ('react', )
        self.percentile = float(percentile)
        self.threshold: Optional[float] = None
        self.fitted = False

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'ReActHead':
        """``c`` = the ``percentile``-th percentile of every entry of the ID-train ``z`` (N, D); labels unused."""
        z = self._view().features(feats, type(self).__name__)
        self.threshold = react_threshold(z, self.percentile)
        self.fitted = True
        return self

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        if not self.fitted:
            raise RuntimeError(f'{type(self).__name__}.fit(id_train_features) must run before scoring')
        view = self._view()

        def score(part: Features) -> Dict[str, Tensor]:
            z = view.features(part, type(self).__name__)
            return self.scores_as(dict(react=view.logits(react_shape(z, self.threshold), z).logsumexp(dim=1)))

        return self.chunked(feats, view.num_classes, score)
