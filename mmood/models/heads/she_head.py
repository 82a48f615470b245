"""SHE on a :class:`~mmood.models.heads.LinearView`: ``⟨z, μ_ŷ⟩`` against the stored pattern of the predicted class
(score ``she``).

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.she`. ``z`` is the view's
feature (CLIP's pre-projection feature, or what a probe reads) and ``ŷ`` the argmax of the view's logits; the
patterns are fitted on the config's labelled ID-train features: a sample is correct when the view's prediction
(zero-shot or the probe's) equals its label.
"""
from typing import Dict, Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from ...scores.she import SHE_METRICS, fit_she, she_score
from ...utils.errors import ConfigError
from .base import Features
from .linear_view import LinearViewHead

__all__ = ['SHEHead']


@MODELS.register_module()
class SHEHead(LinearViewHead):
    """Simplified Hopfield energy (score name ``she``).

    Args:
        metric: ``'inner_product'`` (the paper's and OpenOOD v1.5's), ``'euclidean'`` (``−‖z − μ‖``) or
            ``'cosine'``.
        view: ``'zero_shot'`` or ``'probe'`` (:class:`~mmood.models.heads.LinearViewHead`).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """

    requires_fit = True
    fit_state_names = ('patterns', )

    def __init__(self, metric: str = 'inner_product', view: str = 'zero_shot', templates=None, prefix: str = '',
                 init_cfg: Optional[dict] = None):
        super().__init__(view=view, templates=templates, prefix=prefix, init_cfg=init_cfg)
        if metric not in SHE_METRICS:
            raise ConfigError(f'SHEHead: metric must be one of {SHE_METRICS}, got {metric!r}')
        self.metric = metric
        self.score_names = ('she', )
        self.patterns: Optional[Tensor] = None
        self.fitted = False

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'SHEHead':
        """The class patterns of the labelled ID-train features."""
        view = self._view()
        if labels is None:
            raise ConfigError('SHEHead needs the ID-train labels: its patterns are class means of the correctly '
                              'classified ID-train samples')
        z = view.features(feats, type(self).__name__)
        rows = max(1, int(self.chunk_elements) // view.num_classes)
        preds = torch.cat([view.logits(z[s:s + rows]).argmax(dim=1) for s in range(0, z.shape[0], rows)])
        self.patterns = fit_she(z, torch.as_tensor(labels).to(z.device), preds, view.num_classes)
        self.fitted = True
        return self

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        if not self.fitted:
            raise RuntimeError('SHEHead.fit(id_train_features, labels) must run before scoring')
        return self.chunked(feats, self._view().num_classes, self._scores)

    def _scores(self, feats: Features) -> Dict[str, Tensor]:
        z, logits = self.view_batch(feats)
        return self.scores_as(dict(she=she_score(z, logits, self.patterns, self.metric)))
