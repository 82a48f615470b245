"""Classifier-logit scorers on CLIP's zero-shot logits: MSP, MaxLogit, Energy, L1 norm.

The logits are those of the zero-shot classifier::

    l_k(x) = s · cos(h, e_k)        h: unit image feature, e_k: unit class prototype, s: logit scale (100)

exactly the expression :meth:`CLIPOODClassifier.scores_from_features` uses for the ID prediction.
"""
from typing import Optional

from torch import Tensor

from ..registry import SCORERS
from ..scores.logits import energy_score, l1_norm_score, maxlogit_score, msp_score
from .base import BaseScorer, Features, ScorerContext

__all__ = ['ZeroShotLogitScorer', 'MSPScorer', 'MaxLogitScorer', 'EnergyScorer', 'L1NormScorer', 'zero_shot_logits']


def zero_shot_logits(feats: Tensor, id_text: Tensor, logit_scale: float) -> Tensor:
    """``logit_scale * feats @ id_text.T`` -- the zero-shot classifier's logits (B, K)."""
    return float(logit_scale) * feats @ id_text.T


class ZeroShotLogitScorer(BaseScorer):
    """Base of the logit scorers: builds ``s · cos(h, e_k)`` from the global feature and the ID prototypes.

    Args:
        logit_scale: the scale ``s``; None uses the classifier's (``model.logit_scale``). Defaults to 100.
    """

    def __init__(self, logit_scale: Optional[float] = 100.0):
        self.logit_scale = logit_scale
        self.id_text = None
        self.scale = None

    def prepare(self, ctx: ScorerContext) -> 'ZeroShotLogitScorer':
        self.id_text = ctx.id_text
        self.scale = float(self.logit_scale) if self.logit_scale is not None else float(ctx.logit_scale)
        return self

    def logits(self, feats: Features) -> Tensor:
        if self.id_text is None:
            raise RuntimeError(f'{type(self).__name__}.prepare(ctx) must run before scoring')
        h = self._kind(feats, 'global')
        return zero_shot_logits(h, self.id_text.to(h.device), self.scale)


@SCORERS.register_module(name=['msp', 'MSPScorer'])
class MSPScorer(ZeroShotLogitScorer):
    """Maximum softmax probability (Hendrycks & Gimpel, ICLR 2017): ``S = max_k softmax_k(l / T)``.

    Args:
        temperature: softmax temperature ``T`` (1).
        logit_scale: scale of the cosines (100; None = the classifier's).
    """

    def __init__(self, temperature: float = 1.0, logit_scale: Optional[float] = 100.0):
        super().__init__(logit_scale)
        self.temperature = temperature

    def score(self, feats: Features) -> Tensor:
        return msp_score(self.logits(feats), self.temperature)


@SCORERS.register_module(name=['maxlogit', 'MaxLogitScorer'])
class MaxLogitScorer(ZeroShotLogitScorer):
    """MaxLogit (Hendrycks et al., ICML 2022): ``S = max_k l_k``.

    Args:
        logit_scale: scale of the cosines (100; None = the classifier's).
    """

    def score(self, feats: Features) -> Tensor:
        return maxlogit_score(self.logits(feats))


@SCORERS.register_module(name=['energy', 'EnergyScorer'])
class EnergyScorer(ZeroShotLogitScorer):
    """Negative free energy (Liu et al., NeurIPS 2020): ``S = T · logsumexp_k(l_k / T)``.

    Args:
        temperature: energy temperature ``T`` (1).
        logit_scale: scale of the cosines (100; None = the classifier's).
    """

    def __init__(self, temperature: float = 1.0, logit_scale: Optional[float] = 100.0):
        super().__init__(logit_scale)
        self.temperature = temperature

    def score(self, feats: Features) -> Tensor:
        return energy_score(self.logits(feats), self.temperature)


@SCORERS.register_module(name=['l1norm', 'L1NormScorer'])
class L1NormScorer(ZeroShotLogitScorer):
    """PLP's L1-norm logit score: ``S = Σ_k (l_k − min_j l_j)``.

    Args:
        logit_scale: scale of the cosines (100; None = the classifier's).
    """

    def score(self, feats: Features) -> Tensor:
        return l1_norm_score(self.logits(feats))
