"""Classifier-logit scores of CLIP's zero-shot logits (or of PLP's trained probe): MSP, MaxLogit, Energy, L1 norm.

Logits (option ``logits``)::

    'zero_shot':  l_k(x) = s · cos(h, e_k)     h: unit image feature, e_k: unit ID prototype, s: logit scale (100)
    'probe':      l(x)   = W (x − μ)/σ + b     the classifier's trained linear probe (PLP, ``LinearProbeHead``)

Scores (option ``scores``, any subset, each **higher = more in-distribution**; maths in
:mod:`mmood.scores.logits`)::

    msp       S = max_k softmax_k(l / T)               Hendrycks & Gimpel, ICLR 2017
    maxlogit  S = max_k l_k                            Hendrycks et al., ICML 2022
    energy    S = T · logsumexp_k(l_k / T)             Liu et al., NeurIPS 2020 (negative free energy)
    l1norm    S = Σ_k (l_k − min_j l_j)                PLP (Adaloglou et al., TMLR 2024)

Added as an ``extra_heads`` entry of the zero-shot configs, the baselines come with every run at no extra encoder
cost: they reuse the features and prototypes of the run's method.
"""
from types import MappingProxyType
from typing import Dict, Optional, Sequence

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from ...utils.options import Range
from ...scores.logits import LOGIT_SCORES
from .base import BaseOODHead, Features, HeadContext
from ...utils.errors import ConfigError

__all__ = ['LogitHead', 'zero_shot_logits', 'check_logit_scores', 'probe_of']

LOGIT_SOURCES = ('zero_shot', 'probe')


def zero_shot_logits(feats: Tensor, id_text: Tensor, logit_scale: float) -> Tensor:
    """``logit_scale · feats @ id_text.T``: the zero-shot classifier's logits (B, K)."""
    return float(logit_scale) * feats @ id_text.T


def check_logit_scores(scores: Sequence[str], who: str) -> tuple:
    """The score names, validated against :data:`mmood.scores.LOGIT_SCORES`."""
    scores = (scores, ) if isinstance(scores, str) else tuple(scores)
    unknown = [s for s in scores if s not in LOGIT_SCORES]
    if not scores or unknown:
        raise ConfigError(f'{who}: unknown logit scores {unknown or scores}; choose from {sorted(LOGIT_SCORES)}')
    return scores


def probe_of(ctx: HeadContext, who: str):
    """The trained linear probe of the context's classifier (PLP), or a clear error."""
    head = ctx.lent('probe', who, 'a LinearProbeClassifier config (e.g. configs/plp/plp_vitb16_in1k.py) with its '
                    'checkpoint: tools/score.py CONFIG CHECKPOINT ...')
    if not bool(head.stats_ready):
        raise ConfigError(f'{who}: the linear probe is untrained; pass the checkpoint written by tools/train.py '
                          f'(tools/score.py CONFIG work_dirs/<config>/iter_<N>.pth ...).')
    return head


@MODELS.register_module()
class LogitHead(BaseOODHead):
    """Logit scores of the zero-shot classifier or of the classifier's trained probe (formulas in the module
    docstring).

    Args:
        scores: which logit scores to return, the first is the head's primary one.
        temperature: ``T`` of MSP and energy (1).
        logit_scale: the scale ``s`` of the zero-shot logits (100; None = the classifier's).
        logits: ``'zero_shot'`` or ``'probe'`` (PLP's trained probe; then ``logit_scale`` is unused).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to every score name.
        init_cfg: mmengine init config.
    """

    #: declared ranges (checked when the head is built)
    option_ranges = MappingProxyType(dict(temperature=Range(gt=0, why='T divides the logits'),
                                          logit_scale=Range(gt=0, none=True, why='a scale of cosines')))

    def __init__(self,
                 scores: Sequence[str] = ('msp', 'maxlogit', 'energy'),
                 temperature: float = 1.0,
                 logit_scale: Optional[float] = 100.0,
                 logits: str = 'zero_shot',
                 templates=None,
                 prefix: str = '',
                 init_cfg: Optional[dict] = None):
        super().__init__(templates=templates, prefix=prefix, init_cfg=init_cfg)
        if logits not in LOGIT_SOURCES:
            raise ConfigError(f'LogitHead: logits must be one of {LOGIT_SOURCES}, got {logits!r}')
        self.scores = check_logit_scores(scores, 'LogitHead')
        self.score_names = self.scores
        self.temperature = float(temperature)
        self.scale_option = logit_scale
        self.source = logits
        self.needs_text = logits == 'zero_shot'
        self.probe = None
        if logits == 'probe':
            self.feature_kinds = ('pre_proj', )

    def prepare(self, ctx: HeadContext) -> 'LogitHead':
        super().prepare(ctx)
        if self.scale_option is not None:
            self.logit_scale = float(self.scale_option)
        if self.source == 'probe':
            self.borrow('probe', probe_of(ctx, 'LogitHead(logits="probe")'))
            self.feature_kinds = (self.probe.feature, )
        return self

    def logits(self, feats: Features) -> Tensor:
        """The logits this head scores (B, K)."""
        self._check_prepared()
        if self.source == 'probe':
            x = self.kind(feats, self.probe.feature, 'LogitHead(logits="probe")')
            with torch.no_grad():  # scores of the trained probe, never a path for its gradients
                return self.probe.logits(x.to(self.probe.mean.device))
        h = self.kind(feats, 'global', 'LogitHead')
        return zero_shot_logits(h, self.id_text.to(h.device), self.logit_scale)

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        width = self.probe.num_classes if self.source == 'probe' else self.id_text.shape[0]
        return self.chunked(feats, width, self._scores)

    def _scores(self, feats: Features) -> Dict[str, Tensor]:
        logits = self.logits(feats)
        return self.named(**{name: LOGIT_SCORES[name](logits, self.temperature) for name in self.scores})
