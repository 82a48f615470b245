"""ViM on a :class:`~mmood.models.heads.LinearView`: ``lse(s) − α ‖Rᵀ(z − o)‖`` (score ``vim``).

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.vim`. On CLIP's zero-shot
view ``z`` is the pre-projection feature and ``s = W z / n(z)`` the classifier's own logits (``b = 0``, so
``o = 0``): the residual is of ``z``, the energy and the max logit of α are the classifier's. On a probe, ``W`` and
``b`` are its last layer. Fitted on the config's ID-train features (float64).
"""
from types import MappingProxyType
from typing import Dict, Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from ...scores.vim import fit_vim, vim_score
from ...utils.errors import ConfigError
from ...utils.options import Range
from .base import Features, HeadContext
from .linear_view import LinearViewHead

__all__ = ['ViMHead']


@MODELS.register_module()
class ViMHead(LinearViewHead):
    """Virtual-logit matching (score name ``vim``).

    Args:
        dim: the principal-subspace dimension, ``0 < dim < D`` (256, OpenOOD v1.5's published ViM; the authors'
            rule: 1000 for D >= 2048, else 512).
        view: ``'zero_shot'`` or ``'probe'`` (:class:`~mmood.models.heads.LinearViewHead`).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """

    requires_fit = True
    fit_state_names = ('stats', )
    option_ranges = MappingProxyType(dict(LinearViewHead.option_ranges, dim=Range(
        ge=1, integer=True, why='the dimension of the principal subspace (also below the feature dimension)')))

    def __init__(self, dim: int = 256, view: str = 'zero_shot', templates=None, prefix: str = '',
                 init_cfg: Optional[dict] = None):
        super().__init__(view=view, templates=templates, prefix=prefix, init_cfg=init_cfg)
        self.dim = int(dim)
        self.score_names = ('vim', )
        self.stats: Optional[Dict[str, Tensor]] = None
        self.fitted = False

    def prepare(self, ctx: HeadContext) -> 'ViMHead':
        super().prepare(ctx)
        if not self.dim < self.view.dim:
            raise ConfigError(f'ViMHead: dim={self.dim} must be below the feature dimension D = {self.view.dim} '
                              f'({self.view.kind}; the residual space has D - dim dimensions): set model.head.dim '
                              f'or --method-options vim.dim=N with N < {self.view.dim}')
        return self

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'ViMHead':
        """``o``, ``R`` and ``α`` of the ID-train features (labels unused)."""
        view = self._view()
        z = view.features(feats, type(self).__name__)
        rows = max(1, int(self.chunk_elements) // view.num_classes)
        max_logits = torch.cat([view.logits(z[s:s + rows]).max(dim=1).values for s in range(0, z.shape[0], rows)])
        self.stats = fit_vim(z, max_logits, view.weight.to(z.device), view.bias.to(z.device), self.dim)
        self.fitted = True
        return self

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        if not self.fitted:
            raise RuntimeError('ViMHead.fit(id_train_features) must run before scoring')
        return self.chunked(feats, self._view().num_classes, self._scores)

    def _scores(self, feats: Features) -> Dict[str, Tensor]:
        z, logits = self.view_batch(feats)
        return self.scores_as(dict(vim=vim_score(z, logits, self.stats)))
