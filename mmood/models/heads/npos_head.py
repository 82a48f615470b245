"""NPOS's own scores (Tao et al., "Non-Parametric Outlier Synthesis", ICLR 2023, arXiv 2303.02966).

NPOS fine-tunes the last blocks of CLIP's image tower; its main score is MCM on the fine-tuned features (an
:class:`~mmood.models.heads.MCMHead` in the config). This head adds what only an NPOS model has:

* ``outlier`` -- the logit of the outlier MLP φ on the raw (un-normalised) image embedding, trained with ID
  features labelled 1 and synthesised outliers labelled 0 (:class:`~mmood.models.losses.OutlierRegLoss`), so
  **higher = more ID**;
* ``npos_msp`` (only with ``reference_msp=True``) -- the reference's batch-Frobenius MSP
  (:func:`mmood.scores.batch_frobenius_msp`, NP-1), which depends on the other images of a batch: a parity option for
  the reference's numbers, never a default (tools/test.py under several processes batches differently).
"""
from typing import Dict

import torch
from mmpretrain.registry import MODELS

from ...scores.npos import batch_frobenius_msp
from .base import BaseOODHead, Features, HeadContext


@MODELS.register_module()
class NPOSHead(BaseOODHead):
    """The outlier MLP's logit (and optionally the reference's batch-Frobenius MSP) of an NPOS model.

    Args:
        reference_msp: also report ``npos_msp`` (NP-1 parity; batch-dependent).
        templates / prefix / init_cfg: as :class:`BaseOODHead`.
    """
    feature_kinds = ('embed', )

    def __init__(self, reference_msp: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.reference_msp = bool(reference_msp)
        self.score_names = ('outlier', 'npos_msp') if self.reference_msp else ('outlier', )
        self.needs_text = self.reference_msp  # `outlier` reads image features only (image-only backbones too)
        self.borrow('mlp', None)  # the model's module (prepare), not a submodule of the head

    def prepare(self, ctx: HeadContext) -> 'NPOSHead':
        super().prepare(ctx)
        self.borrow('mlp', ctx.lent('outlier_mlp', 'NPOSHead', 'an NPOS model (NPOSClassifier)'))
        return self

    def forward(self, feats: Features) -> Dict[str, torch.Tensor]:
        self._check_prepared()
        embed = self.kind(feats, 'embed', 'NPOSHead').float()
        scores = dict(outlier=self.mlp(embed).reshape(-1))
        if self.reference_msp:
            scores['npos_msp'] = batch_frobenius_msp(embed, self.id_text)
        return self.named(**scores)
