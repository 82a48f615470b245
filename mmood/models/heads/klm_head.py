"""KL-Matching on the classifier's logits (zero-shot or a trained probe): ``S = −min_k KL(p ‖ d_k)``.

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.klm`; the logits are those of
:class:`~mmood.models.heads.LogitHead` (``s · cos(h, e_k)`` with s = 100, or PLP's probe). The templates ``d_k`` are
fitted on the head's own logits of the ID-train features (:meth:`KLMatchingHead.fit`, called by the prepare hook or
``tools/score.py``); OpenOOD v1.5 fits them on ID-val, mmood on the config's ID-train set (docs/klm.md).
"""
from types import MappingProxyType
from typing import Dict, Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from ...scores.klm import klm_score, klm_statistics, klm_templates
from ...utils.errors import ConfigError
from ...utils.options import Range
from .base import Features
from .logit_head import LogitHead

__all__ = ['KLMatchingHead']


@MODELS.register_module()
class KLMatchingHead(LogitHead):
    """KL divergence of the softmax to the nearest class-mean softmax template (score name ``klm``; fitted).

    Args:
        logit_scale: the scale ``s`` of the zero-shot logits (100; None = the classifier's).
        logits: ``'zero_shot'`` or ``'probe'`` (PLP's trained probe).
        fit_chunk: ID-train rows per chunk of the fit (the (rows, C) logits of one chunk are formed at a time).
        templates: ID prompt templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """

    requires_fit = True
    fit_state_names = ('distributions', )
    option_ranges = MappingProxyType(dict(LogitHead.option_ranges,
                                          fit_chunk=Range(ge=1, integer=True, why='rows per chunk of the fit')))

    def __init__(self, logit_scale: Optional[float] = 100.0, logits: str = 'zero_shot', fit_chunk: int = 8192,
                 templates=None, prefix: str = '', init_cfg: Optional[dict] = None):
        super().__init__(scores=('msp', ), logit_scale=logit_scale, logits=logits, templates=templates,
                         prefix=prefix, init_cfg=init_cfg)
        self.fit_chunk = int(fit_chunk)
        self.scores = self.score_names = ('klm', )
        self.distributions: Optional[Tensor] = None  # d_k (C, C), float64
        self.fitted = False

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'KLMatchingHead':
        """Templates ``d_k`` from this head's logits of the ID-train features (``labels`` unused: the classes are
        the classifier's predictions, as in the paper)."""
        self._check_prepared()
        kinds = {k: torch.as_tensor(v) for k, v in feats.items() if k in self.feature_kinds}
        num = next(iter(kinds.values())).shape[0] if kinds else 0
        if num == 0:
            raise ConfigError(f'KLMatchingHead.fit needs ID-train features of {self.feature_kinds}; got '
                              f'{sorted(feats)} with no rows')
        device = self.id_text.device
        sums = counts = None
        for start in range(0, num, self.fit_chunk):
            chunk = {k: v[start:start + self.fit_chunk].to(device) for k, v in kinds.items()}
            sums, counts = klm_statistics(self.logits(chunk), sums, counts)
        self.distributions = klm_templates(sums, counts)
        self.fitted = True
        return self

    def fit_reads(self) -> Dict:
        """The prototypes, the logit scale and source, and a probe's state (the logits the templates average)."""
        return dict(super().fit_reads(), logit_scale=self.logit_scale, logits=self.source, probe=self.probe)

    def _scores(self, feats: Features) -> Dict[str, Tensor]:
        if not self.fitted:
            raise RuntimeError('KLMatchingHead.fit(id_train_features) must run before scoring (the prepare hook and '
                               'tools/score.py do it from the config\'s id_train_dataloader)')
        return self.named(klm=klm_score(self.logits(feats), self.distributions).float())
