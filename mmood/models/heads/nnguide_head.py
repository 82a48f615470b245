"""NNGuide on a :class:`~mmood.models.heads.LinearView`: the energy times the mean of the K largest similarities to
an energy-weighted ID-train bank (score ``nnguide``).

The maths, paper and sign (**higher = more in-distribution**) are in :mod:`mmood.scores.nnguide`. ``z`` is the
view's feature (CLIP's pre-projection feature, or what a probe reads), the energy ``lse(s)`` that of the view's
logits (on CLIP's zero-shot view the classifier's own, positive at scale 100). The bank is a seeded uniform subset of
the config's ID-train features, fitted in float64.
"""
from types import MappingProxyType
from typing import Dict, Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from ...scores.nnguide import BANK_POLICIES, nnguide_bank, nnguide_score, nnguide_subset
from ...utils.errors import ConfigError
from ...utils.options import Range
from .base import Features
from .linear_view import LinearViewHead

__all__ = ['NNGuideHead']


@MODELS.register_module()
class NNGuideHead(LinearViewHead):
    """Nearest-neighbour guidance (score name ``nnguide``).

    Args:
        k: K, the number of nearest bank entries averaged (100).
        alpha: α, the bank's share of the ID-train samples (0.01: round(α N) samples).
        bank_size: the number of bank samples instead of round(α N) (None).
        seed: the seed of the bank's uniform draw (0).
        bank_policy: ``'uniform'`` (a seeded uniform subset) or ``'loader_prefix'`` (OpenOOD v1.5's first
            ``(⌊⌊αN⌋ / B⌋ + 1) · B`` rows of the ID-train set in its order).
        loader_batch_size: B of ``'loader_prefix'`` (200, OpenOOD's batch size).
        view: ``'zero_shot'`` or ``'probe'`` (:class:`~mmood.models.heads.LinearViewHead`).
        templates: ID templates for this head's own prototypes (None = the classifier's).
        prefix: prepended to the score name.
        init_cfg: mmengine init config.
    """

    requires_fit = True
    fit_state_names = ('bank', )
    option_ranges = MappingProxyType(dict(
        LinearViewHead.option_ranges,
        k=Range(ge=1, integer=True, why='a number of neighbours'),
        alpha=Range(gt=0, le=1, why="the bank's share of the ID-train samples"),
        bank_size=Range(ge=1, integer=True, none=True, why='a number of bank samples'),
        seed=Range(ge=0, integer=True, why="the seed of the bank's draw"),
        loader_batch_size=Range(ge=1, integer=True, why="OpenOOD's ID-train batch size")))

    def __init__(self, k: int = 100, alpha: float = 0.01, bank_size: Optional[int] = None, seed: int = 0,
                 bank_policy: str = 'uniform', loader_batch_size: int = 200, view: str = 'zero_shot',
                 templates=None, prefix: str = '', init_cfg: Optional[dict] = None):
        super().__init__(view=view, templates=templates, prefix=prefix, init_cfg=init_cfg)
        if bank_policy not in BANK_POLICIES:
            raise ConfigError(f'NNGuideHead: bank_policy must be one of {BANK_POLICIES}, got {bank_policy!r}')
        self.k, self.alpha, self.seed = int(k), float(alpha), int(seed)
        self.bank_size = None if bank_size is None else int(bank_size)
        self.bank_policy, self.loader_batch_size = bank_policy, int(loader_batch_size)
        self.score_names = ('nnguide', )
        self.bank: Optional[Tensor] = None
        self.fitted = False

    def fit(self, feats: Features, labels: Optional[Tensor] = None) -> 'NNGuideHead':
        """The guidance bank of a subset of the ID-train features (labels unused)."""
        view = self._view()
        raw = self.kind(feats, view.kind, type(self).__name__)
        try:
            index = nnguide_subset(int(raw.shape[0]), self.alpha, self.bank_size, self.seed, self.bank_policy,
                                   self.loader_batch_size)
        except ValueError as err:
            raise ConfigError(f'NNGuideHead: {err}') from None
        if self.k > index.numel():
            raise ConfigError(f'NNGuideHead: k={self.k} but the bank holds {index.numel()} ID-train features; set '
                              f'k <= {index.numel()} or a larger bank (alpha, bank_size)')
        z = view.features({view.kind: raw[index.to(raw.device)]}, type(self).__name__)
        self.bank = nnguide_bank(z, torch.logsumexp(view.logits(z), dim=1))
        self.fitted = True
        return self

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        if not self.fitted:
            raise RuntimeError('NNGuideHead.fit(id_train_features) must run before scoring')
        return self.chunked(feats, max(self.bank.shape[0], self._view().num_classes), self._scores)

    def _scores(self, feats: Features) -> Dict[str, Tensor]:
        z, logits = self.view_batch(feats)
        return self.scores_as(dict(nnguide=nnguide_score(z, logits, self.bank, self.k)))
