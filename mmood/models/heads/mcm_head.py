"""MCM and GL-MCM heads.

MCM (Ming et al., "Delving into Out-of-Distribution Detection with Vision-Language Representations",
NeurIPS 2022, arXiv 2211.13445)::

    S_MCM(x) = max_k softmax_k( cos(h, e_k) / τ )                 τ = 1 on raw cosines (reference)

GL-MCM (Miyai et al., "Zero-Shot In-Distribution Detection in Multi-Object Settings Using Vision-Language
Foundation Models", arXiv 2304.04521) adds the best patch::

    S_GL(x) = S_MCM(x) + λ · max_{i,j} max_k softmax_k( cos(h_ij, e_k) / τ )      λ = 0.5 (GL-2)

One head, one option: ``local_weight = 0`` is MCM, ``local_weight > 0`` is GL-MCM. Higher = more ID.
"""
from typing import Dict

import torch
from mmpretrain.registry import MODELS

from ...scores.glmcm import local_mcm_score
from ...scores.mcm import mcm_score
from .base import BaseOODHead


@MODELS.register_module()
class MCMHead(BaseOODHead):
    """Maximum concept matching, optionally with the local (GL-MCM) term.

    Args:
        tau: softmax temperature on cosine similarities (1.0 in MCM/GL-MCM).
        local_weight: λ of GL-MCM; 0 gives plain MCM.
    """

    def __init__(self, tau: float = 1.0, local_weight: float = 0.0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if tau <= 0:
            raise ValueError(f'tau must be positive, got {tau}')
        self.tau = float(tau)
        self.local_weight = float(local_weight)
        self.feature_kinds = ('global', 'local') if self.local_weight else ('global', )

    def forward(self, feats: Dict[str, torch.Tensor], id_text: torch.Tensor) -> torch.Tensor:
        score = mcm_score(feats['global'] @ id_text.T, tau=self.tau)
        if self.local_weight:
            local_cos = feats['local'] @ id_text.T
            score = score + self.local_weight * local_mcm_score(local_cos, tau=self.tau)
        return score
