"""Linear probe on z-scored image features, scored by its logits (PLP).

Paper: N. Adaloglou, F. Michels, T. Kaiser, M. Kollmann, "Adapting Contrastive Language-Image Pretrained (CLIP)
Models for Out-of-Distribution Detection", TMLR 2024, arXiv:2303.05828 (PLP). Specification: plp.md §4-5.

With the ID-train mean ``μ`` and unbiased standard deviation ``σ`` per feature dimension (stored as buffers, so
testing needs no training file)::

    z(x) = (x − μ) / σ                     σ_d ≤ std_eps  ->  σ_d := 1  (column only centred; PLP-12)
    l(x) = W z(x) + b                      one nn.Linear(D, C) with bias, default initialisation
    S(x) = T · logsumexp(l / T)            'energy' (negative free energy)
         = max_c softmax_c(l / T)          'msp'
         = max_c l_c                       'maxlogit'
         = Σ_c (l_c − min l)               'l1norm'

The reference has no epsilon: a zero-variance column gives inf/NaN there (reference_bugs PLP-12); here it is
centred only, so every z-score stays finite. Which logit score fills the paper's PLP rows is not verified
(plp.md §5): the head returns energy and MSP side by side (``plp_energy``, the primary ``score``, and
``plp_msp``; option ``scores``), so every run reports both.

Sign: every score is **higher = more in-distribution**.
"""
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ...scores.logits import LOGIT_SCORES
from .base import BaseOODHead, Features
from .logit_head import check_logit_scores
from ...utils.errors import ConfigError

__all__ = ['LinearProbeHead', 'zscore_statistics']


def zscore_statistics(feats: Any, batch_size: int = 65536) -> Tuple[Tensor, Tensor]:
    """Per-dimension mean and unbiased standard deviation of (N, D) features, in float64, batch by batch.

    Two passes (mean, then squared deviations) over a tensor, an array or a memory-mapped array; nothing larger
    than one batch is materialised.

    Args:
        feats: (N, D) features, N >= 2.
        batch_size: rows per batch.

    Returns:
        ``(mean, std)``: two (D,) float64 tensors.
    """
    num = int(feats.shape[0])
    if num < 2:
        raise ConfigError(f'z-score statistics need at least 2 samples, got {num}')

    def batches():
        for start in range(0, num, int(batch_size)):
            chunk = feats[start:start + int(batch_size)]
            yield chunk.to(torch.float64) if isinstance(chunk, Tensor) else \
                torch.from_numpy(np.array(chunk, np.float64))

    total = None
    for chunk in batches():
        total = chunk.sum(0) if total is None else total + chunk.sum(0)
    mean = total / num
    squares = None
    for chunk in batches():
        dev = ((chunk - mean.to(chunk.device))**2).sum(0)
        squares = dev if squares is None else squares + dev
    return mean.cpu(), (squares / (num - 1)).sqrt().cpu()


@MODELS.register_module()
class LinearProbeHead(BaseOODHead):
    """``nn.Linear`` on z-scored features; OOD score of its logits (formulas in the module docstring).

    The layer is created by :meth:`setup` once the feature width is known (the classifier calls it with the
    backbone's width), or at construction when ``in_channels`` and ``num_classes`` are both given.

    Args:
        in_channels: feature width ``D`` (None: set by the classifier from its backbone).
        num_classes: number of classes ``C`` (None: set by the classifier from its class names).
        feature: feature kind the probe reads (``'pre_proj'`` in PLP; ``'global'`` also works).
        score: the primary OOD score of the logits: ``'energy'``, ``'msp'``, ``'maxlogit'`` or ``'l1norm'``.
        scores: the logit scores returned besides ``score`` (named ``<prefix><score>``).
        temperature: ``T`` of energy / MSP (1.0 in PLP).
        std_eps: columns with ``σ ≤ std_eps`` are centred but not scaled.
        prefix: prepended to the score names (``'plp_'``).
        init_cfg: mmengine init config (None keeps PyTorch's default ``nn.Linear`` initialisation, as PLP).
    """

    def __init__(self,
                 in_channels: Optional[int] = None,
                 num_classes: Optional[int] = None,
                 feature: str = 'pre_proj',
                 score: str = 'energy',
                 scores: Sequence[str] = ('energy', 'msp'),
                 temperature: float = 1.0,
                 std_eps: float = 1e-6,
                 prefix: str = 'plp_',
                 init_cfg: Optional[dict] = None):
        super().__init__(prefix=prefix, init_cfg=init_cfg)
        self.scores = tuple(dict.fromkeys(check_logit_scores((score, ) + tuple(scores), 'LinearProbeHead')))
        self.score_names = self.scores
        if not temperature > 0:
            raise ConfigError(f'temperature must be positive, got {temperature}')
        self.feature = feature
        self.feature_kinds = (feature, )
        self.score = score
        self.temperature = float(temperature)
        self.std_eps = float(std_eps)
        self.in_channels = None
        self.num_classes = None
        self.fc = None
        if in_channels is not None and num_classes is not None:
            self.setup(in_channels, num_classes)

    def setup(self, in_channels: int, num_classes: int) -> None:
        """Create the layer and the z-score buffers (idempotent for the same sizes).

        Raises:
            ValueError: sizes disagree with those given at construction.
        """
        if self.fc is not None:
            if (self.in_channels, self.num_classes) != (int(in_channels), int(num_classes)):
                raise ConfigError(f'LinearProbeHead was built for {self.in_channels} -> {self.num_classes}, '
                                  f'not {in_channels} -> {num_classes}')
            return
        self.in_channels, self.num_classes = int(in_channels), int(num_classes)
        self.fc = nn.Linear(self.in_channels, self.num_classes)
        self.register_buffer('mean', torch.zeros(self.in_channels))
        self.register_buffer('std', torch.ones(self.in_channels))
        self.register_buffer('stats_ready', torch.zeros((), dtype=torch.bool))

    def _check_built(self) -> None:
        if self.fc is None:
            raise RuntimeError('LinearProbeHead.setup(in_channels, num_classes) has not been called')

    def set_statistics(self, mean: Tensor, std: Tensor) -> int:
        """Store the ID-train mean and (unbiased) std; returns the number of zero-variance columns guarded."""
        self._check_built()
        mean = torch.as_tensor(mean, dtype=torch.float64).reshape(-1)
        std = torch.as_tensor(std, dtype=torch.float64).reshape(-1)
        if mean.numel() != self.in_channels or std.numel() != self.in_channels:
            raise ConfigError(f'statistics of width {mean.numel()} / {std.numel()} for a probe of width '
                              f'{self.in_channels}')
        flat = ~(std > self.std_eps)  # also catches NaN
        self.mean.copy_(mean.to(self.mean.dtype))
        self.std.copy_(torch.where(flat, torch.ones_like(std), std).to(self.std.dtype))
        self.stats_ready.fill_(True)
        return int(flat.sum())

    def standardize(self, x: Tensor) -> Tensor:
        """``(x − μ) / σ`` in float32 (float64 stays float64)."""
        self._check_built()
        if not bool(self.stats_ready):
            raise RuntimeError('The probe has no z-score statistics: train it (tools/train.py) or load a trained '
                               'checkpoint.')
        x = x if x.dtype == torch.float64 else x.float()
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def logits(self, x: Tensor) -> Tensor:
        """Probe logits (B, C) of raw features (B, D)."""
        z = self.standardize(x)
        return self.fc(z.to(self.fc.weight.dtype))

    def score_logits(self, logits: Tensor) -> Dict[str, Tensor]:
        """The named OOD scores of probe logits (higher = more ID), primary first."""
        return self.named(**{name: LOGIT_SCORES[name](logits, self.temperature) for name in self.scores})

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        """Named OOD scores from ``feats[feature]`` (the probe needs no text: no ``prepare`` required)."""
        return self.score_logits(self.logits(self.kind(feats, self.feature, 'LinearProbeHead')))
