"""The classifier as a linear layer on a penultimate feature: what the classic post-hoc detectors shape and read.

ReAct, ASH, SCALE, DICE, ViM, SHE, NNGuide, fDBD and GradNorm are defined on a network's penultimate feature ``z``
and its last linear layer ``s = W z + b`` (OpenOOD v1.5's ``forward_threshold`` / ``get_fc``). :class:`LinearView`
gives every such head one answer to "what are z, W and b here", for the two classifiers mmood has:

* ``view='zero_shot'`` -- CLIP's zero-shot classifier. ``z`` is the image tower's **pre-projection** feature
  (``pre_proj``: ``ln_post`` of the CLS token for ViTs), ``P`` its projection (lent by the classifier,
  ``projection``), ``T̂`` the unit ID prototypes and ``s`` the logit scale (100)::

      logits(z) = s · unit(z P) T̂ᵀ = W z / n(z),     W = s · T̂ Pᵀ  (C × D_pre),   b = 0,   n(z) = ‖z P‖

  ``n`` is a per-sample normaliser. A detector that shapes ``z`` into ``z'`` (clipping, pruning, scaling) gets
  ``W z' / n(z)``: the normaliser of the **unshaped** feature stays ("frozen normaliser"), so a global rescale of
  ``z'`` (SCALE, ASH-S) survives -- re-normalising ``z' P`` would cancel it. Without shaping the logits are
  exactly the classifier's. CLIP's ``z`` is signed (LayerNorm output), while ReAct, ASH, SCALE and DICE were
  designed for non-negative post-ReLU activations: on CLIP they run as defined but their premise does not hold
  (their pages say so).
* ``view='probe'`` -- a trained linear probe (PLP's, TOE's ``LinearProbeHead`` without hidden layers, lent by the
  classifier as ``probe``): ``z`` is exactly what the probe's linear layer reads (the feature, projected if the
  probe projects, z-scored if it z-scores), ``W`` / ``b`` its weight and bias, ``n(z) = 1``.

Every formula of the detectors is then the paper's / OpenOOD's, exactly, on these ``z``, ``W``, ``b`` and ``n``.
Shaping never mutates the features it is given (cached features are shared).
"""
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor

from ...utils.errors import ConfigError
from .base import BaseOODHead, Features, HeadContext

__all__ = ['LinearView', 'LinearViewHead', 'VIEWS', 'build_view']

VIEWS = ('zero_shot', 'probe')


class LinearView:
    """``z``, ``W``, ``b`` and the normaliser ``n`` of a classifier (see the module docstring).

    Args:
        weight: (C, D) float64 copy of ``W``.
        bias: (C,) float64 copy of ``b`` (zeros for the zero-shot view).
        kind: the feature kind ``z`` is computed from (``pre_proj``).
        projection: (D, d) for the zero-shot normaliser ``‖z P‖`` (None: ``n = 1``).
        probe: the probe whose input transform gives ``z`` (probe view), or None.
    """

    def __init__(self, weight: Tensor, bias: Tensor, kind: str, projection: Optional[Tensor] = None,
                 probe=None):
        self.weight = weight
        self.bias = bias
        self.kind = kind
        self.projection = projection
        self.probe = probe

    @property
    def num_classes(self) -> int:
        return int(self.weight.shape[0])

    @property
    def dim(self) -> int:
        return int(self.weight.shape[1])

    def features(self, feats: Features, who: str = 'This head') -> Tensor:
        """``z`` (B, D) of a batch, float64 (a new tensor: shaping it never touches ``feats``)."""
        x = BaseOODHead.kind(feats, self.kind, who)
        if self.probe is not None:
            with torch.no_grad():
                x = self.probe.project_input(x.to(self.probe.mean.device))
                x = self.probe.standardize(x) if self.probe.zscore else x
        return x.detach().to(torch.float64).clone()

    def normaliser(self, z: Tensor) -> Tensor:
        """``n(z)`` (B, 1): ``‖z P‖`` of the unshaped feature (zero-shot view), ones for the probe view."""
        if self.projection is None:
            return torch.ones(z.shape[0], 1, dtype=z.dtype, device=z.device)
        return (z @ self.projection.to(device=z.device, dtype=z.dtype)).norm(dim=1, keepdim=True)

    def logits(self, shaped: Tensor, z: Optional[Tensor] = None, weight: Optional[Tensor] = None) -> Tensor:
        """``(W' z' + b) / n(z)``: the logits of the shaped feature ``shaped`` (default ``z`` itself), with the
        normaliser of the unshaped ``z`` and ``weight`` instead of ``W`` if given (DICE's masked weight)."""
        z = shaped if z is None else z
        w = (self.weight if weight is None else weight).to(device=shaped.device, dtype=shaped.dtype)
        out = shaped @ w.T + self.bias.to(device=shaped.device, dtype=shaped.dtype)
        return out / self.normaliser(z)


def build_view(view: str, ctx: HeadContext, who: str) -> LinearView:
    """The :class:`LinearView` of the context's classifier (``view``: ``'zero_shot'`` or ``'probe'``)."""
    if view == 'zero_shot':
        proj = ctx.lent('projection', who, 'a CLIP classifier (its image tower\'s projection)')
        text = ctx.id_text.detach().to(torch.float64)
        # P = identity when pre_proj is already in the text space (towers without a separate projection)
        proj = torch.eye(text.shape[1], dtype=torch.float64, device=text.device) if proj is None else \
            proj.detach().to(device=text.device, dtype=torch.float64)
        weight = float(ctx.logit_scale) * text @ proj.T
        bias = torch.zeros(weight.shape[0], dtype=torch.float64, device=weight.device)
        return LinearView(weight, bias, 'pre_proj', projection=proj)
    probe = ctx.lent('probe', who, 'a LinearProbeClassifier config (PLP, TOE) with its checkpoint')
    if not bool(probe.stats_ready) and probe.zscore:
        raise ConfigError(f'{who}: the linear probe is untrained; pass the checkpoint written by tools/train.py')
    if not isinstance(probe.fc, torch.nn.Linear):
        raise ConfigError(f'{who}: the probe has hidden layers (hidden={probe.hidden}); the detectors read the last '
                          f'linear layer of a single-layer probe only')
    weight = probe.fc.weight.detach().to(torch.float64)
    bias = probe.fc.bias.detach().to(torch.float64) if probe.fc.bias is not None else \
        torch.zeros(weight.shape[0], dtype=torch.float64, device=weight.device)
    return LinearView(weight, bias, probe.feature, probe=probe)


class LinearViewHead(BaseOODHead):
    """Base of the heads that work on a :class:`LinearView` (the classic post-hoc detectors).

    Subclasses set their ``score_names`` and implement ``forward`` with :attr:`view` (``features``, ``logits``,
    ``normaliser``, ``weight``, ``bias``); fitted ones set ``requires_fit`` and implement :meth:`fit` on
    ``self.view.features(feats)`` of the ID-train features.

    Args:
        view: ``'zero_shot'`` (CLIP's zero-shot classifier on ``pre_proj``) or ``'probe'`` (the classifier's
            trained single-layer probe).
        templates: ID templates for this head's own prototypes (zero-shot view; None = the classifier's).
        prefix: prepended to every score name.
        init_cfg: mmengine init config.
    """

    def __init__(self, view: str = 'zero_shot', templates=None, prefix: str = '', init_cfg: Optional[dict] = None):
        super().__init__(templates=templates, prefix=prefix, init_cfg=init_cfg)
        if view not in VIEWS:
            raise ConfigError(f'{type(self).__name__}: view must be one of {VIEWS}, got {view!r}')
        self.view_name = view
        self.needs_text = view == 'zero_shot'
        self.view: Optional[LinearView] = None
        self.feature_kinds = ('pre_proj', )

    def prepare(self, ctx: HeadContext) -> 'LinearViewHead':
        super().prepare(ctx)
        self.view = build_view(self.view_name, ctx, f'{type(self).__name__}(view={self.view_name!r})')
        self.feature_kinds = (self.view.kind, )
        return self

    def fit_reads(self) -> Dict:
        """The prototypes and the view: ``W``, ``b``, the projection, the feature kind and a probe's state."""
        view = self._view()
        return dict(super().fit_reads(), view=dict(kind=view.kind, weight=view.weight, bias=view.bias,
                                                   projection=view.projection, probe=view.probe))

    def _view(self) -> LinearView:
        self._check_prepared()
        return self.view

    def view_batch(self, feats: Features) -> Tuple[Tensor, Tensor]:
        """``(z, logits)`` of a batch: the penultimate feature and the classifier's logits (float64)."""
        view = self._view()
        z = view.features(feats, type(self).__name__)
        return z, view.logits(z)

    def scores_as(self, values: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """``self.named(...)`` with the scores as float32 (the other heads' dtype)."""
        return self.named(**{k: v.float() for k, v in values.items()})
