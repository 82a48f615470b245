"""Linear probe on z-scored image features, scored by its logits (PLP).

Paper: N. Adaloglou, F. Michels, T. Kaiser, M. Kollmann, "Adapting Contrastive Language-Image Pretrained (CLIP)
Models for Out-of-Distribution Detection", TMLR 2024, arXiv:2303.05828 (PLP). See docs/plp.md.

With the ID-train mean ``μ`` and unbiased standard deviation ``σ`` per feature dimension (stored as buffers, so
testing needs no training file)::

    z(x) = (x − μ) / σ                     σ_d ≤ std_eps  ->  σ_d := 1  (column only centred; PLP-12)
    l(x) = W z(x) + b                      one nn.Linear(D, C) with bias, default initialisation
    S(x) = T · logsumexp(l / T)            'energy' (negative free energy)
         = max_c softmax_c(l / T)          'msp'
         = max_c l_c                       'maxlogit'
         = Σ_c (l_c − min l)               'l1norm'

Options for other linear-head methods (TOE, arXiv:2310.16492, docs/toe.md): ``project=True`` reads the *raw projected*
image feature ``x W_proj`` (computed from the cached ``pre_proj`` rows and the tower's projection, set by the
classifier with :meth:`LinearProbeHead.set_projection`; exactly what ``encode_image`` returns before its
normalisation), ``zscore=False`` feeds the features unscaled (the statistics are then the identity, μ = 0, σ = 1),
``hidden=(h1, ...)`` puts ReLU layers of those widths before the last linear layer (an MLP head), and
:meth:`LinearProbeHead.embedding_logits` applies the head to vectors already in the joint space (TOE's outlier
text embeddings: no projection).

The reference has no epsilon: a zero-variance column gives inf/NaN there (PLP-12); here it is
centred only, so every z-score stays finite. Which logit score fills the paper's PLP rows is not verified
(docs/plp.md): the head returns energy and MSP side by side (``plp_energy``, the primary ``score``, and
``plp_msp``; option ``scores``), so every run reports both.

Sign: every score is **higher = more in-distribution**.
"""
from types import MappingProxyType
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from ...utils.options import Range
from ...scores.logits import LOGIT_SCORES
from .base import BaseOODHead, Features
from .logit_head import check_logit_scores
from ...utils.errors import ConfigError

__all__ = ['LinearProbeHead', 'zscore_statistics']


def zscore_statistics(feats: Any, batch_size: int = 65536,
                      transform: Optional[Callable[[Tensor], Tensor]] = None) -> Tuple[Tensor, Tensor]:
    """Per-dimension mean and unbiased standard deviation of (N, D) features, in float64, batch by batch.

    Two passes (mean, then squared deviations) over a tensor, an array or a memory-mapped array; nothing larger
    than one batch is materialised.

    Args:
        feats: (N, D) features, N >= 2.
        batch_size: rows per batch.
        transform: applied to each float64 batch first (e.g. the tower's projection), None: the rows as they are.

    Returns:
        ``(mean, std)``: two (D,) float64 tensors.
    """
    num = int(feats.shape[0])
    if num < 2:
        raise ConfigError(f'z-score statistics need at least 2 samples, got {num}')

    def batches():
        for start in range(0, num, int(batch_size)):
            chunk = feats[start:start + int(batch_size)]
            chunk = chunk.to(torch.float64) if isinstance(chunk, Tensor) else \
                torch.from_numpy(np.array(chunk, np.float64))
            yield chunk if transform is None else transform(chunk)

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
        project: read ``x W_proj`` (the raw projected feature; TOE) instead of ``x``; the classifier sets ``W_proj``.
        zscore: z-score the input with the ID-train statistics (PLP); False feeds it unscaled (TOE).
        hidden: widths of ReLU hidden layers before the output layer (``()``: one linear layer).
        init_cfg: mmengine init config (None keeps PyTorch's default ``nn.Linear`` initialisation, as PLP).
    """

    option_ranges = MappingProxyType(dict(
        temperature=Range(gt=0, why='T divides the logits'), std_eps=Range(gt=0, why='keeps the z-score finite'),
        in_channels=Range(ge=1, integer=True, none=True), num_classes=Range(ge=1, integer=True, none=True)))

    def __init__(self,
                 in_channels: Optional[int] = None,
                 num_classes: Optional[int] = None,
                 feature: str = 'pre_proj',
                 score: str = 'energy',
                 scores: Sequence[str] = ('energy', 'msp'),
                 temperature: float = 1.0,
                 std_eps: float = 1e-6,
                 prefix: str = 'plp_',
                 project: bool = False,
                 zscore: bool = True,
                 hidden: Sequence[int] = (),
                 init_cfg: Optional[dict] = None):
        super().__init__(prefix=prefix, init_cfg=init_cfg)
        self.project = bool(project)
        self.needs_text = False  # the probe reads image features only (its training labels are the classifier's)
        self.zscore = bool(zscore)
        self.hidden = tuple(int(h) for h in hidden)
        if any(h < 1 for h in self.hidden):
            raise ConfigError(f'hidden widths must be positive, got {self.hidden}')
        self.scores = tuple(dict.fromkeys(check_logit_scores((score, ) + tuple(scores), 'LinearProbeHead')))
        self.score_names = self.scores
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
        widths = (self.in_channels, ) + self.hidden
        layers = []
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(w_in, w_out), nn.ReLU(inplace=True)]
        self.fc = nn.Sequential(*layers, nn.Linear(widths[-1], self.num_classes)) if layers else \
            nn.Linear(self.in_channels, self.num_classes)
        # the tower's projection (project=True): part of the frozen tower, not of the head's checkpoints
        self.register_buffer('proj', None, persistent=False)
        self.register_buffer('mean', torch.zeros(self.in_channels))
        self.register_buffer('std', torch.ones(self.in_channels))
        self.register_buffer('stats_ready', torch.zeros((), dtype=torch.bool))

    def set_projection(self, proj: Optional[Tensor]) -> None:
        """The tower's projection ``W_proj`` (D_pre, D) read by ``project=True`` (None: ``pre_proj`` is already the
        projected feature, as for towers without a separate projection)."""
        if self.project:
            self.proj = None if proj is None else proj.detach().float()

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
        """Probe logits (B, C) of raw features (B, D) of :attr:`feature` (projected first with ``project=True``)."""
        return self.embedding_logits(self.project_input(x))

    def project_input(self, x: Tensor) -> Tensor:
        """``x W_proj`` with ``project=True`` (float32, float64 stays float64), else ``x`` unchanged."""
        if not self.project or self.proj is None:
            return x
        x = x if x.dtype == torch.float64 else x.float()
        return x @ self.proj.to(device=x.device, dtype=x.dtype)

    def embedding_logits(self, e: Tensor) -> Tensor:
        """Logits (M, C) of vectors already in the head's input space (TOE's outlier text embeddings)."""
        z = self.standardize(e) if self.zscore else e
        return self.fc(z.to(next(self.fc.parameters()).dtype))

    def score_logits(self, logits: Tensor) -> Dict[str, Tensor]:
        """The named OOD scores of probe logits (higher = more ID), primary first."""
        return self.named(**{name: LOGIT_SCORES[name](logits, self.temperature) for name in self.scores})

    def forward(self, feats: Features) -> Dict[str, Tensor]:
        """Named OOD scores from ``feats[feature]`` (the probe needs no text: no ``prepare`` required)."""
        return self.score_logits(self.logits(self.kind(feats, self.feature, 'LinearProbeHead')))
