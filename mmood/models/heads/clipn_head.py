"""CLIPN's scores: CTW and ATD from the "yes" and "no" class prototypes.

Paper: H. Wang, Y. Li, H. Yao, X. Li, "CLIPN for Zero-Shot OOD Detection: Teaching CLIP to Say No", ICCV 2023.
Reference: ``xmed-lab/CLIPN`` ``src/zero_shot_infer.py`` (CN-8: the literal ×100 of the reference's inference)::

    l_yes_c = s · cos(f, W_yes[c])     l_no_c = s · cos(f, W_no[c])     s = 100
    p_yes_c = σ(l_yes_c − l_no_c)
    ctw     = p_yes_ĉ,  ĉ = argmax_c l_yes_c                (competing-to-win)
    atd     = Σ_c p_yes_c · softmax(l_yes)_c               (agreeing-to-differ, 1 − P(unknown))

``W_yes`` are the classifier's ID prototypes (the yes tower), ``W_no`` the prototypes of the same prompts encoded
by the trained "no" tower (:class:`~mmood.models.classifiers.CLIPNClassifier` puts them in the context as
``ctx.extra['no_text']``). Both scores are **higher = more in-distribution**. MSP, MaxLogit and Energy of the yes
logits come from a :class:`~mmood.models.heads.LogitHead` in ``extra_heads`` (same features, same prototypes).
Maths: :mod:`mmood.scores.clipn`.
"""
from types import MappingProxyType
from typing import Dict, Optional, Sequence

from mmpretrain.registry import MODELS
from torch import Tensor

from ...utils.options import Range
from ...scores.clipn import clipn_scores
from ...utils.errors import ConfigError
from .base import BaseOODHead, Features, HeadContext

__all__ = ['CLIPNHead']

CLIPN_SCORES = ('atd', 'ctw')


@MODELS.register_module()
class CLIPNHead(BaseOODHead):
    """CTW and ATD of a CLIPN model (formulas in the module docstring).

    Args:
        scores: which of ``('atd', 'ctw')`` to return, the first is the head's primary one (ATD by default).
        logit_scale: ``s`` (CLIPN's inference uses the literal 100; None = the classifier's scale).
        prefix: prepended to every score name.
        init_cfg: mmengine init config.
    """

    option_ranges = MappingProxyType(dict(logit_scale=Range(gt=0, none=True, why='a scale of cosines')))

    def __init__(self, scores: Sequence[str] = CLIPN_SCORES, logit_scale: Optional[float] = 100.0,
                 prefix: str = '', init_cfg: Optional[dict] = None):
        super().__init__(prefix=prefix, init_cfg=init_cfg)
        scores = (scores, ) if isinstance(scores, str) else tuple(scores)
        unknown = [s for s in scores if s not in CLIPN_SCORES]
        if not scores or unknown:
            raise ConfigError(f'CLIPNHead: unknown scores {unknown or scores}; choose from {CLIPN_SCORES}')
        self.scores = scores
        self.score_names = scores
        self.scale_option = logit_scale
        self.no_text: Optional[Tensor] = None

    def prepare(self, ctx: HeadContext) -> 'CLIPNHead':
        super().prepare(ctx)
        no_text = ctx.extra.get('no_text')
        if no_text is None:
            raise ConfigError('CLIPNHead scores the "no" prototypes of a CLIPN model: use it in a CLIPNClassifier '
                              'config (configs/clipn/*.py), e.g. tools/score.py configs/clipn/clipn_vitb16_cc3m.py '
                              'CHECKPOINT --methods config.')
        if tuple(no_text.shape) != tuple(self.id_text.shape):
            raise ConfigError(f'CLIPNHead: "no" prototypes {tuple(no_text.shape)} do not match the yes prototypes '
                              f'{tuple(self.id_text.shape)}')
        self.no_text = no_text.to(ctx.device)
        if self.scale_option is not None:
            self.logit_scale = float(self.scale_option)
        return self

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        self._check_prepared()
        return self.chunked(feats, 2 * self.id_text.shape[0], self._scores)

    def _scores(self, feats: Features) -> Dict[str, Tensor]:
        f = self.kind(feats, 'global', 'CLIPNHead')
        out = clipn_scores(f @ self.id_text.to(f.device).T, f @ self.no_text.to(f.device).T, self.logit_scale)
        return self.named(**{name: out[name] for name in self.scores})
