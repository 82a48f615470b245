"""MCM and GL-MCM.

MCM (Ming et al., "Delving into Out-of-Distribution Detection with Vision-Language Representations",
NeurIPS 2022, arXiv 2211.13445)::

    S_MCM(x) = max_k softmax_k( cos(h, e_k) / τ )                 τ = 1 on raw cosines (reference)

GL-MCM (Miyai et al., "Zero-Shot In-Distribution Detection in Multi-Object Settings Using Vision-Language
Foundation Models", arXiv 2304.04521) adds the best patch::

    S_L(x)  = max_{i,j} max_k softmax_k( cos(h_ij, e_k) / τ )
    S_GL(x) = S_MCM(x) + λ · S_L(x)                               λ = 0.5 (GL-2)

One head, one option: ``local_weight = 0`` is MCM (score ``mcm``); ``local_weight > 0`` is GL-MCM and returns
``glmcm`` (primary), ``mcm`` and ``local_mcm`` from the same features. Maths: :mod:`mmood.scores.mcm`,
:mod:`mmood.scores.glmcm`. Every score is **higher = more in-distribution**.
"""
from types import MappingProxyType
from typing import Dict, Optional

from mmpretrain.registry import MODELS
from torch import Tensor

from ...utils.options import Range
from ...scores.glmcm import glmcm_from_parts, local_mcm_score
from ...scores.mcm import mcm_score
from .base import BaseOODHead, Features

__all__ = ['MCMHead']


@MODELS.register_module()
class MCMHead(BaseOODHead):
    """Maximum concept matching, optionally with the local (GL-MCM) term.

    Args:
        tau: softmax temperature on cosine similarities (1.0 in MCM/GL-MCM).
        local_weight: λ of GL-MCM; 0 gives plain MCM.
        templates: ID templates for this head's own prototypes (None = the classifier's; PLP's pseudo-MSP baseline
            is MCM with ``templates='plp5'``).
        prefix: prepended to every score name.
        init_cfg: mmengine init config.
    """

    option_ranges = MappingProxyType(dict(tau=Range(gt=0, why='the softmax temperature divides the cosines'),
                                          local_weight=Range(ge=0, why="GL-MCM's lambda weighs the local term")))

    def __init__(self, tau: float = 1.0, local_weight: float = 0.0, templates=None, prefix: str = '',
                 init_cfg: Optional[dict] = None):
        super().__init__(templates=templates, prefix=prefix, init_cfg=init_cfg)
        self.tau = float(tau)
        self.local_weight = float(local_weight)
        if self.local_weight:
            self.feature_kinds = ('global', 'local')
            self.score_names = ('glmcm', 'mcm', 'local_mcm')
        else:
            self.score_names = ('mcm', )

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        self._check_prepared()
        local = feats.get('local') if self.local_weight else None
        patches = 1 if local is None else int(local[0].numel() // local.shape[-1])
        return self.chunked(feats, patches * self.id_text.shape[0], self._scores)

    def _scores(self, feats: Features) -> Dict[str, Tensor]:
        h = self.kind(feats, 'global', 'MCMHead')
        text = self.id_text.to(h.device)
        s_mcm = mcm_score(h @ text.T, tau=self.tau)
        if not self.local_weight:
            return self.named(mcm=s_mcm)
        s_local = local_mcm_score(self.kind(feats, 'local', 'GL-MCM') @ text.T, tau=self.tau)
        return self.named(glmcm=glmcm_from_parts(s_mcm, s_local, self.local_weight), mcm=s_mcm, local_mcm=s_local)
