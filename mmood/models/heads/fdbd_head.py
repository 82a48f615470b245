"""fDBD on a :class:`~mmood.models.heads.LinearView`: the summed distances to the decision boundaries of the
predicted class over the distance to the ID-train mean (score ``fdbd``).

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.fdbd`. The numerator reads
the *affine* logits ``W z + b``: on CLIP's zero-shot view the unnormalised ``W z`` (no ``n(z) = ‖z P‖``), whose
boundaries ``(w_i − w_j) · z = 0`` are the classifier's (a positive per-sample factor changes no argmax), so
``|Δs| / ‖Δw‖`` is the exact distance of ``z`` to them; on a probe its last layer. ``μ`` is the mean of the config's
ID-train ``z``, in float64.
"""
from typing import Dict, Optional

from mmpretrain.registry import MODELS
from torch import Tensor

from ...scores.fdbd import fdbd_score, fit_fdbd
from .base import Features
from .linear_view import LinearViewHead

__all__ = ['FDBDHead']


@MODELS.register_module()
class FDBDHead(LinearViewHead):
    """Fast decision-boundary detector (score name ``fdbd``).

    Args:
        distance_as_normalizer: divide by ``‖z − μ‖`` (True, OpenOOD v1.5's default) or by ``‖z‖``.
        view: ``'zero_shot'`` or ``'probe'`` (:class:`~mmood.models.heads.LinearViewHead`).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """

    requires_fit = True
    fit_state_names = ('stats', )

    def __init__(self, distance_as_normalizer: bool = True, view: str = 'zero_shot', templates=None,
                 prefix: str = '', init_cfg: Optional[dict] = None):
        super().__init__(view=view, templates=templates, prefix=prefix, init_cfg=init_cfg)
        self.distance_as_normalizer = bool(distance_as_normalizer)
        self.score_names = ('fdbd', )
        self.stats: Optional[Dict[str, Tensor]] = None
        self.fitted = False

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'FDBDHead':
        """The ID-train mean and the table of ``‖w_i − w_j‖`` (labels unused)."""
        view = self._view()
        z = view.features(feats, type(self).__name__)
        self.stats = fit_fdbd(z, view.weight.to(z.device))
        self.fitted = True
        return self

    def affine_logits(self, z: Tensor) -> Tensor:
        """``W z + b`` (no normaliser)."""
        view = self._view()
        return z @ view.weight.to(device=z.device, dtype=z.dtype).T + view.bias.to(device=z.device, dtype=z.dtype)

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        if not self.fitted:
            raise RuntimeError('FDBDHead.fit(id_train_features) must run before scoring')
        return self.chunked(feats, self._view().num_classes, self._scores)

    def _scores(self, feats: Features) -> Dict[str, Tensor]:
        z = self._view().features(feats, type(self).__name__)
        return self.scores_as(dict(fdbd=fdbd_score(z, self.affine_logits(z), self.stats['pair_norms'],
                                                   self.stats['center'], self.distance_as_normalizer)))
