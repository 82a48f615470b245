"""Zero-shot CLIP scorers that reuse mmood's OOD heads: MCM, GL-MCM, NegLabel, and the config's own head.

They need the text tower (``prepare`` encodes prompts / mines negatives, cached), never the image encoder. The
``config`` scorer is exactly what ``tools/test.py`` computes: :meth:`CLIPOODClassifier.scores_from_features`.
"""
from typing import Optional, Sequence, Union

from mmpretrain.registry import MODELS
from torch import Tensor

from ..registry import SCORERS
from .base import BaseScorer, Features, ScorerContext

__all__ = ['HeadScorer', 'MCMScorer', 'GLMCMScorer', 'NegLabelScorer', 'ConfigHeadScorer']


@SCORERS.register_module(name=['head', 'HeadScorer'])
class HeadScorer(BaseScorer):
    """Score with any registered OOD head (``MCMHead``, ``NegLabelHead``...): ``S(x) = head(feats, e)``.

    The head is prepared with the same context :meth:`CLIPOODClassifier.prepare` gives it (backbone, ID
    prototypes, class names, templates, cache, work dir), so it behaves exactly as inside a test run.

    Args:
        head: the head config, e.g. ``dict(type='MCMHead', tau=1.0)``.
        templates: ID prompt templates for this scorer's prototypes (a named set or a list); None uses the
            classifier's.
    """

    def __init__(self, head: dict, templates: Optional[Union[str, Sequence[str]]] = None):
        self.head_cfg = dict(head)
        self.head = MODELS.build(self.head_cfg)
        self.templates = templates
        self.feature_kinds = tuple(dict.fromkeys(('global', ) + tuple(self.head.feature_kinds)))
        self.id_text = None

    def prepare(self, ctx: ScorerContext) -> 'HeadScorer':
        from ..text import build_text_classifier_cached, resolve_templates
        templates = ctx.templates
        id_text = ctx.id_text
        if self.templates is not None:
            templates = resolve_templates(self.templates)
            id_text = build_text_classifier_cached(ctx.backbone, ctx.class_names, templates, ctx.cache,
                                                   ctx.batch_size).to(ctx.device)
        self.head.to(ctx.device)
        # heads that need no text beyond the ID prototypes (MCM) also work from features and prototypes alone
        backbone = ctx.model.backbone if ctx.model is not None else None
        self.head.prepare(dict(backbone=backbone, id_text=id_text, class_names=ctx.class_names,
                               templates=templates, cache=ctx.cache, work_dir=ctx.work_dir,
                               batch_size=ctx.batch_size))
        self.id_text = id_text
        return self

    def score(self, feats: Features) -> Tensor:
        if self.id_text is None:
            raise RuntimeError(f'{type(self).__name__}.prepare(ctx) must run before scoring')
        if isinstance(feats, Tensor):
            feats = {'global': feats}
        return self.head(feats, self.id_text)


@SCORERS.register_module(name=['mcm', 'MCMScorer'])
class MCMScorer(HeadScorer):
    """MCM (Ming et al., NeurIPS 2022): ``S = max_k softmax_k(cos(h, e_k) / τ)`` via ``MCMHead``.

    Args:
        tau: temperature on cosines (1.0).
        templates: ID templates (None = the classifier's).
    """

    def __init__(self, tau: float = 1.0, templates=None):
        super().__init__(dict(type='MCMHead', tau=tau, local_weight=0.0), templates)


@SCORERS.register_module(name=['glmcm', 'GLMCMScorer'])
class GLMCMScorer(HeadScorer):
    """GL-MCM (Miyai et al., 2023): ``S = S_MCM + λ · max_patches max_k softmax_k(cos(h_ij, e_k) / τ)``.

    Needs ``local`` features.

    Args:
        tau: temperature on cosines (1.0).
        local_weight: ``λ`` (0.5).
        templates: ID templates (None = the classifier's).
    """

    def __init__(self, tau: float = 1.0, local_weight: float = 0.5, templates=None):
        super().__init__(dict(type='MCMHead', tau=tau, local_weight=local_weight), templates)


@SCORERS.register_module(name=['neglabel', 'NegLabelScorer'])
class NegLabelScorer(HeadScorer):
    """NegLabel (Jiang et al., ICLR 2024) via ``NegLabelHead``: the ID share of the softmax over ID and mined
    negative labels, averaged over groups. Negatives are mined from the word corpus with the text tower (cached).

    Args:
        templates: ID templates (None = the classifier's).
        **head_options: ``NegLabelHead`` options (``corpus_dir``, ``tau``, ``ngroup``, ``neg_ratio``...).
    """

    def __init__(self, templates=None, **head_options):
        super().__init__(dict(type='NegLabelHead', **head_options), templates)

    def prepare(self, ctx: ScorerContext) -> 'NegLabelScorer':
        if ctx.model is None:
            raise ValueError('neglabel mines its negative labels with the CLIP text tower: build the context with '
                             'ScorerContext.from_model(model)')
        return super().prepare(ctx)


@SCORERS.register_module(name=['config', 'ConfigHeadScorer'])
class ConfigHeadScorer(BaseScorer):
    """The config's own method: ``model.scores_from_features(feats)[1]``, the very function ``tools/test.py``
    scores images with, so re-scoring cached features reproduces the test run's metrics."""

    def __init__(self):
        self.model = None
        self.feature_kinds = ('global', )

    def prepare(self, ctx: ScorerContext) -> 'ConfigHeadScorer':
        if ctx.model is None:
            raise ValueError('The "config" scorer needs the classifier (ScorerContext.from_model)')
        self.model = ctx.model
        self.feature_kinds = tuple(dict.fromkeys(('global', ) + tuple(self.model.head.feature_kinds)))
        return self

    def score(self, feats: Features) -> Tensor:
        if self.model is None:
            raise RuntimeError('ConfigHeadScorer.prepare(ctx) must run before scoring')
        if isinstance(feats, Tensor):
            feats = {'global': feats}
        return self.model.scores_from_features(feats)[1]
