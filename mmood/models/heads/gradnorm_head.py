"""GradNorm on the classifier's last linear layer: ``S = ‖z‖₁ · Σ_c |C·p_c − 1|``.

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.gradnorm`. What ``z`` and
``p`` are (option ``view``):

* ``'zero_shot'`` -- the layer CLIP's prototypes multiply: ``z = h``, the unit image feature (``global``), and
  ``p = softmax(s · h T̂ᵀ)`` (s = 100), so ``W = s·T̂``, ``b = 0`` and ``S = ‖h‖₁ · Σ_c |C·p_c − 1|``. (Reading the
  pre-projection feature instead, the :class:`~mmood.models.heads.LinearView` z-view, would give
  ``‖z‖₁ / ‖Pz‖ · Σ_c |C·p_c − 1|``: another ranking, not offered.)
* ``'probe'`` -- a trained single-layer probe (PLP, TOE): ``z`` is what its linear layer reads
  (:class:`~mmood.models.heads.LinearView`'s probe view), ``p`` the softmax of its logits.
"""
from types import MappingProxyType
from typing import Dict, Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from ...scores.gradnorm import gradnorm_score
from ...utils.errors import ConfigError
from ...utils.options import Range
from .base import BaseOODHead, Features, HeadContext
from .linear_view import VIEWS, LinearView, build_view
from .logit_head import zero_shot_logits

__all__ = ['GradNormHead']


@MODELS.register_module()
class GradNormHead(BaseOODHead):
    """GradNorm of the zero-shot classifier (h-view) or of a trained probe (score name ``gradnorm``; no fit).

    Args:
        view: ``'zero_shot'`` (z = the unit ``global`` feature, W = s·T̂) or ``'probe'`` (the probe's last layer).
        logit_scale: the scale ``s`` of the zero-shot logits (100; None = the classifier's); unused by the probe.
        templates: ID prompt templates for this head's own prototypes (zero-shot view; None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """

    option_ranges = MappingProxyType(dict(logit_scale=Range(gt=0, none=True, why='a scale of cosines')))

    def __init__(self, view: str = 'zero_shot', logit_scale: Optional[float] = 100.0, templates=None,
                 prefix: str = '', init_cfg: Optional[dict] = None):
        super().__init__(templates=templates, prefix=prefix, init_cfg=init_cfg)
        if view not in VIEWS:
            raise ConfigError(f'GradNormHead: view must be one of {VIEWS}, got {view!r}')
        self.view_name = view
        self.needs_text = view == 'zero_shot'  # the probe view reads image features only
        self.scale_option = logit_scale
        self.view: Optional[LinearView] = None
        self.score_names = ('gradnorm', )
        self.feature_kinds = ('global', ) if view == 'zero_shot' else ('pre_proj', )

    def prepare(self, ctx: HeadContext) -> 'GradNormHead':
        super().prepare(ctx)
        if self.scale_option is not None:
            self.logit_scale = float(self.scale_option)
        if self.view_name == 'probe':
            self.view = build_view('probe', ctx, 'GradNormHead(view="probe")')
            self.feature_kinds = (self.view.kind, )
        return self

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        self._check_prepared()
        width = self.view.num_classes if self.view is not None else self.id_text.shape[0]
        return self.chunked(feats, width, self._scores)

    def _scores(self, feats: Features) -> Dict[str, Tensor]:
        if self.view is not None:
            z = self.view.features(feats, 'GradNormHead')
            logits = self.view.logits(z)
        else:
            z = self.kind(feats, 'global', 'GradNormHead').detach().to(torch.float64)
            logits = zero_shot_logits(z, self.id_text.to(device=z.device, dtype=torch.float64), self.logit_scale)
        return self.named(gradnorm=gradnorm_score(z, logits).float())
