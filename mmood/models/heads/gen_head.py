"""GEN on the classifier's logits (zero-shot or a trained probe): ``S = −Σ_{top-M} p^γ (1 − p)^γ``.

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.gen`; the logits are those of
:class:`~mmood.models.heads.LogitHead` (``s · cos(h, e_k)`` with s = 100, or PLP's probe).
"""
from types import MappingProxyType
from typing import Dict, Optional

from mmpretrain.registry import MODELS
from torch import Tensor

from ...utils.options import Range
from ...scores.gen import gen_score
from .base import Features
from .logit_head import LogitHead

__all__ = ['GENHead']


@MODELS.register_module()
class GENHead(LogitHead):
    """Generalized entropy of the softmax of the classifier's logits (score name ``gen``).

    Args:
        gamma: γ (0.1).
        top_m: M, the number of largest probabilities summed (100; all classes when M ≥ C).
        logit_scale: the scale ``s`` of the zero-shot logits (100; None = the classifier's).
        logits: ``'zero_shot'`` or ``'probe'`` (PLP's trained probe).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """

    option_ranges = MappingProxyType(dict(LogitHead.option_ranges, gamma=Range(gt=0, why='the exponent of GEN'),
                                          top_m=Range(ge=1, integer=True, why='how many probabilities are summed')))

    def __init__(self, gamma: float = 0.1, top_m: int = 100, logit_scale: Optional[float] = 100.0,
                 logits: str = 'zero_shot', templates=None, prefix: str = '', init_cfg: Optional[dict] = None):
        super().__init__(scores=('msp', ), logit_scale=logit_scale, logits=logits, templates=templates,
                         prefix=prefix, init_cfg=init_cfg)
        self.gamma, self.top_m = float(gamma), int(top_m)
        self.scores = self.score_names = ('gen', )

    def _scores(self, feats: Features) -> Dict[str, Tensor]:
        return self.named(gen=gen_score(self.logits(feats), self.gamma, self.top_m))
