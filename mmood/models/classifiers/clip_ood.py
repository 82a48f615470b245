"""Zero-shot CLIP classifier with OOD heads (named scores)."""
import itertools
import logging
import os
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np  # noqa: F401  (type of score_sets)
import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ...cache import CacheStore
from ...text import build_text_classifier_cached, load_class_names, resolve_templates
from ...text.embeddings import check_ensemble
from ...utils import compute_on_main
from ..heads import BaseOODHead, HeadContext, build_head, score_pairs
from ..protocol import OODModel
from ...utils.errors import ConfigError

CLASS_NAME_CHECKS = ('names', 'count')
CLIP_MEAN = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
CLIP_STD = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]


def clip_data_preprocessor(**kwargs) -> dict:
    """mmpretrain ``ClsDataPreprocessor`` with CLIP's mean/std (0-255 scale) and BGR->RGB."""
    return dict(dict(type='ClsDataPreprocessor', mean=CLIP_MEAN, std=CLIP_STD, to_rgb=True), **kwargs)


def build_data_preprocessor(cfg=None):
    """Build a data preprocessor config (default: :func:`clip_data_preprocessor`) in mmpretrain's registry
    (mmengine's ``BaseModel`` would look the type up in its root registry); modules pass through. With CUDA, its
    host-to-device copies are non-blocking (mmengine's ``non_blocking``, which ``ClsDataPreprocessor`` does not
    take as an argument)."""
    if cfg is None:
        cfg = clip_data_preprocessor()
    preprocessor = MODELS.build(cfg) if isinstance(cfg, dict) else cfg
    if hasattr(preprocessor, '_non_blocking') and torch.cuda.is_available():
        preprocessor._non_blocking = True  # batches from pinned memory (OODTestLoop's default) copy asynchronously
    return preprocessor


def _drop_frozen_tower(module, state_dict, prefix, local_metadata) -> None:
    """state_dict post-hook: leave the frozen open_clip tower out of checkpoints."""
    if module.backbone.frozen:
        for key in [k for k in state_dict if k.startswith(prefix + 'backbone.')]:
            del state_dict[key]


def _frozen_tower_not_missing(module, incompatible_keys) -> None:
    """load_state_dict post-hook: the frozen tower is absent from checkpoints by design, not missing."""
    if module.backbone.frozen:
        incompatible_keys.missing_keys[:] = [k for k in incompatible_keys.missing_keys
                                             if not k.startswith('backbone.') and '.backbone.' not in k]


@MODELS.register_module()
class CLIPOODClassifier(BaseModel, OODModel):
    """Backbone + class names + prompts + OOD heads with named scores.

    The reference implementation of the :class:`~mmood.models.OODModel` protocol (every OOD model derives from it).
    ``predict`` returns data samples with the zero-shot class probabilities (``pred_score``), the predicted
    label, ``ood_scores`` (every named score of every sample-level head, higher = more ID) and ``ood_score``
    (the primary one). Text-side state (ID prototypes, NegLabel negatives) is built by :meth:`prepare` -- called
    by :class:`~mmood.engine.hooks.OODPrepareHook` before testing, or lazily on the first forward -- once on
    rank 0 and broadcast. Heads fitted on ID-train features (KNN, Mahalanobis) are fitted by that hook too
    (:meth:`fit_heads`); set-level heads (:attr:`BaseOODHead.set_level`) are scored per (ID, OOD set) pair after
    the test loop (:meth:`score_sets`, called by :class:`~mmood.engine.SetLevelScoresHook` before the metric).

    Args:
        backbone: config of :class:`~mmood.models.backbones.OpenCLIPBackbone`.
        class_names: list of ID class names or a text file with one per line.
        head: config of the method's head (``MCMHead``, ``NegLabelHead``, ``KNNHead``...).
        extra_heads: more heads scored from the same features (e.g. ``LogitHead`` for MSP / MaxLogit / Energy).
        primary_score: the score reported under the metric's plain keys and in ``ood_score`` (default: the
            first score of ``head``).
        templates: ID prompt templates: a named set (``'mcm'``, ``'neglabel'``, ``'plp5'``, ``'csp_noun'``) or a list.
        ensemble: how several templates combine into a prototype: ``'unit_mean'`` (mean of unit embeddings,
            normalised; CLIP's rule) or ``'raw_mean'`` (mean of raw embeddings, normalised; CSP's and NegRefine's).
        logit_scale: scale of cosines for the ID class probabilities (100 = OpenAI CLIP's; None = the model's).
        cache_dir: shared cache directory for text embeddings and mined negatives (None disables caching; the
            tools fill in the user's cache folder).
        text_batch_size: prompts per text forward.
        class_name_check: how the class names must agree with the test data's classes: ``'names'`` (the same
            names in the same order; default) or ``'count'`` (the config names the same classes differently, e.g.
            CLIP's names on a list of wnids: their number is checked, the order is the data's label order).
        data_preprocessor: defaults to CLIP normalisation.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 backbone: dict,
                 class_names: Union[str, Sequence[str]],
                 head: dict,
                 extra_heads: Sequence[dict] = (),
                 primary_score: Optional[str] = None,
                 templates: Union[str, Sequence[str]] = 'mcm',
                 ensemble: str = 'unit_mean',
                 logit_scale: Optional[float] = 100.0,
                 cache_dir: Optional[str] = None,
                 text_batch_size: int = 1000,
                 class_name_check: str = 'names',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor), init_cfg=init_cfg)
        if class_name_check not in CLASS_NAME_CHECKS:
            raise ConfigError(f'class_name_check must be one of {CLASS_NAME_CHECKS}, got {class_name_check!r}')
        self.class_name_check = class_name_check
        self.backbone = MODELS.build(backbone)
        self.head = build_head(head, 'model.head')
        self.extra_heads = nn.ModuleList(build_head(h, 'model.extra_heads') for h in extra_heads)
        names = [n for h in self.heads for n in h.score_names]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f'Score names {duplicates} are given by more than one head; set `prefix` on one of '
                              f'them (e.g. model.extra_heads[0].prefix="zs_")')
        if primary_score is not None and primary_score not in names:
            raise ConfigError(f'primary_score={primary_score!r} is not a score of the heads; scores: {names}')
        self.primary_score = primary_score or self.head.primary_score
        self.class_names: List[str] = load_class_names(class_names)
        self.templates = resolve_templates(templates)
        self.ensemble = check_ensemble(ensemble)
        self.logit_scale = logit_scale
        self.cache_dir = cache_dir
        self.text_batch_size = text_batch_size
        self.register_buffer('id_text', torch.zeros(0), persistent=False)
        self._prepared = False

    # ------------------------------------------------------------------ heads
    @property
    def heads(self) -> List[BaseOODHead]:
        """The method's head, then the extra heads."""
        return [self.head] + list(self.extra_heads)

    @property
    def score_names(self) -> List[str]:
        """Every named score of the heads, the primary one first."""
        names = [n for h in self.heads for n in h.score_names]
        return [self.primary_score] + [n for n in names if n != self.primary_score]

    @property
    def score_replicates(self) -> Dict[str, List[str]]:
        """Base name -> score names that are repeated runs of one score (the heads' ``replicates``, merged); the
        metric adds their mean ± std."""
        out: Dict[str, List[str]] = {}
        for head in self.heads:
            out.update((b, list(names)) for b, names in head.replicates.items())
        return out

    @property
    def set_level_scores(self) -> List[str]:
        """Names of the scores computed per (ID, OOD set) pair (set-level heads)."""
        return [n for h in self.heads if h.set_level for n in h.score_names]

    @property
    def set_level_feature_kinds(self) -> tuple:
        """Feature kinds the set-level heads read (kept per sample by :meth:`predict` for :meth:`score_sets`)."""
        return tuple(dict.fromkeys(k for h in self.heads if h.set_level for k in h.feature_kinds))

    @property
    def feature_kinds(self) -> tuple:
        """Feature kinds the heads read, ``global`` first (the ID prediction needs it)."""
        return tuple(dict.fromkeys(('global', ) + tuple(k for h in self.heads for k in h.feature_kinds)))

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def keep_frozen_tower_out_of_checkpoints(self) -> None:
        """For models that train something beside a frozen tower (PLP's probe, CLIPN's "no" tower): checkpoints
        leave the frozen open_clip weights out (rebuilt from ``backbone.pretrained``; a ViT-bigG-14 checkpoint takes
        MBs, not GBs), and loading does not report them missing. Such models set ``checkpoint_changes_features =
        False``: a checkpoint cannot change the image features or the tower's text embeddings."""
        self.register_state_dict_post_hook(_drop_frozen_tower)
        self.register_load_state_dict_post_hook(_frozen_tower_not_missing)

    def note_checkpoint(self, checkpoint: Optional[str]) -> None:
        """Tell the model which checkpoint was loaded on top of its open_clip weights (text-cache keys)."""
        checkpoint = self.feature_checkpoint(checkpoint)
        if checkpoint:
            self.backbone.note_checkpoint(checkpoint)

    @property
    def duplicate_class_names(self) -> List[str]:
        """Names given to more than one class (ImageNet's CLIP list has ``crane``-like pairs on purpose)."""
        seen, dup = set(), []
        for name in self.class_names:
            if name in seen and name not in dup:
                dup.append(name)
            seen.add(name)
        return dup

    def check_dataset_classes(self, classes: Optional[Sequence[str]], where: str = 'the test data') -> None:
        """The class names must be the data's classes: the same names in the same order (``class_name_check =
        'names'``), or as many (``'count'``); a dataset without names (None) is checked by its labels elsewhere.

        Raises:
            ConfigError: names, order or count disagree (the message shows the first difference and the option).
        """
        if classes is None:
            return
        mine, theirs = list(self.class_names), list(classes)
        if len(mine) != len(theirs):
            raise ConfigError(f'model.class_names has {len(mine)} names but {where} has {len(theirs)} classes '
                              f'({theirs[:5]}{" ..." if len(theirs) > 5 else ""}): every label would be scored '
                              f'against the wrong prototypes. Give the data\'s class list.')
        if self.class_name_check == 'names' and mine != theirs:
            i = next(i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b)
            raise ConfigError(f'model.class_names differ from the classes of {where} at label {i}: "{mine[i]}" vs '
                              f'"{theirs[i]}" (names and order must agree, or labels name other classes). Fix the '
                              f'list, or set model.class_name_check="count" if the config names the same classes '
                              f'differently on purpose (e.g. CLIP\'s names on a wnid list).')

    def lent_to_heads(self) -> dict:
        """``projection``: the image tower's projection P (D_pre, D) from ``pre_proj`` to the text space, or None when
        ``pre_proj`` is already projected (the classifier's zero-shot logits are ``s · unit(z P) T̂ᵀ``; the post-hoc
        detectors that shape ``z`` read it, :class:`~mmood.models.heads.LinearView`)."""
        return dict(projection=self.backbone.projection)

    def report_notes(self) -> List[str]:
        """Lines for every report header: duplicate class names (they give identical prototypes)."""
        dup = self.duplicate_class_names
        return [f'duplicate class names (identical prototypes, kept as in the reference lists): {dup}'] if dup else []

    def head_context(self, work_dir: Optional[str] = None) -> HeadContext:
        """The :class:`~mmood.models.heads.HeadContext` of this classifier (prepared first if needed)."""
        self.prepare(work_dir=work_dir)
        return self._context(work_dir)

    def _context(self, work_dir: Optional[str]) -> HeadContext:
        scale = float(self.logit_scale) if self.logit_scale is not None else float(self.backbone.logit_scale)
        return HeadContext(id_text=self.id_text, logit_scale=scale, class_names=list(self.class_names),
                           templates=list(self.templates), backbone=self.backbone,
                           cache=CacheStore(self.cache_dir) if self.cache_dir else None, work_dir=work_dir,
                           batch_size=self.text_batch_size, ensemble=self.ensemble, extra=dict(self.lent_to_heads()))

    def prepare(self, work_dir: Optional[str] = None, force: bool = False, checkpoint: Optional[str] = None) -> None:
        """Encode the ID prompts and let every head build its text state (once; idempotent).

        Args:
            work_dir: where to write readable records (mined negatives).
            force: prepare again even if already prepared.
            checkpoint: a checkpoint loaded over the open_clip weights (``load_from``), part of the text-cache keys.
        """
        self.note_checkpoint(checkpoint)
        if self._prepared and not force:
            return
        self.check_text_users()
        cache = CacheStore(self.cache_dir) if self.cache_dir else None
        device = next(self.backbone.parameters()).device

        def encode_id():
            return build_text_classifier_cached(self.backbone, self.class_names, self.templates, cache,
                                                self.text_batch_size, ensemble=self.ensemble).cpu()

        self.id_text = compute_on_main(encode_id).to(device) if self.backbone.has_text else \
            torch.zeros(0, self.backbone.embed_dim, device=device)
        if work_dir:
            os.makedirs(work_dir, exist_ok=True)
        ctx = self._context(work_dir)
        for head in self.heads:
            head.prepare(ctx)
        self._prepared = True
        if self.duplicate_class_names:
            print_log(f'{type(self).__name__}: class names given to more than one class: '
                      f'{self.duplicate_class_names} (their prototypes are identical)', logger='current',
                      level=logging.WARNING)
        print_log(f'{type(self).__name__}: {self.num_classes} ID classes, templates {self.templates}, heads '
                  f'{[type(h).__name__ for h in self.heads]}, scores {self.score_names} (primary '
                  f'{self.primary_score})', logger='current', level=logging.INFO)

    #: whether the ID class logits are the zero-shot classifier's (text prototypes); a probe's are not
    classifies_with_text: bool = True

    def text_users(self) -> List[str]:
        """What in this model reads the text side: the zero-shot classifier and the heads that need text."""
        users = [f'{type(self).__name__} (zero-shot class logits)'] if self.classifies_with_text else []
        return users + [type(h).__name__ for h in self.heads if h.needs_text]

    def check_text_users(self) -> None:
        """An image-only backbone serves no part that reads text: refuse up front, naming the parts."""
        users = self.text_users()
        if users and not self.backbone.has_text:
            self.backbone.require_text(', '.join(users))

    def heads_to_fit(self) -> List[BaseOODHead]:
        """Heads that need ID-train statistics (:meth:`fit_heads`) and do not have them yet."""
        return [h for h in self.heads if h.requires_fit and not h.fitted]

    def fit_heads(self, feats: Dict[str, torch.Tensor], labels: Optional[torch.Tensor] = None) -> None:
        """Fit every head that needs ID-train statistics on ``feats`` (kind -> (N, ...)) and ``labels`` (N,)."""
        self.prepare()
        for head in self.heads_to_fit():
            head.fit({k: feats[k] for k in head.feature_kinds}, labels)

    def extract_feat(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Image features of the kinds the heads need (plus ``global``)."""
        return self.backbone.extract_image_features(inputs, self.feature_kinds)

    def class_logits(self, feats: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits of the ID classifier (zero-shot: ``s · cos(h, e_k)``), for the predicted class."""
        scale = float(self.logit_scale) if self.logit_scale is not None else float(self.backbone.logit_scale)
        return scale * feats['global'] @ self.id_text.T

    def scores_from_features(self, feats: Dict[str, torch.Tensor]):
        """(ID logits (B, K), ``{name: (B,)}`` of every sample-level head): the one scoring path for images and
        caches."""
        if not self._prepared:
            self.prepare()
        scores = {}
        for head in self.heads:
            if not head.set_level:
                scores.update(head(feats))
        return self.class_logits(feats), scores

    def score_sets(self, feats: Dict[str, torch.Tensor], set_ids) -> Dict[str, 'np.ndarray']:
        """Scores of the set-level heads per (ID, OOD set) pair (:func:`~mmood.models.heads.score_pairs`)."""
        if not self._prepared:
            self.prepare()
        device = self.id_text.device
        out = {}
        for head in self.heads:
            if head.set_level:
                out.update(score_pairs(head, feats, set_ids, device))
        return out

    def test_step(self, data):
        """mmengine's test step with the data samples kept out of the data preprocessor: at test time mmpretrain's
        ``ClsDataPreprocessor`` would only re-batch their labels onto the device one sample at a time (~25 us per
        image on a CPU core, a main-process cost the loading workers cannot hide), and no score reads them."""
        if isinstance(data, dict) and 'data_samples' in data:
            samples = data['data_samples']
            data = self.data_preprocessor(dict(data, data_samples=None), False)
            data['data_samples'] = samples
            return self._run_forward(data, mode='predict')
        return super().test_step(data)

    val_step = test_step

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None, mode: str = 'tensor'):
        if mode == 'tensor':
            with torch.no_grad():
                return self.scores_from_features(self.extract_feat(inputs))[1]
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, inputs: Any, data_samples: Any) -> Dict[str, torch.Tensor]:
        """The training losses (``mode='loss'``); models that train something override it."""
        raise RuntimeError(f'{type(self).__name__} is a zero-shot model with nothing to train; use '
                           f'tools/test.py (mode="loss" is unsupported).')

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        feats = self.extract_feat(inputs)
        logits, scores = self.scores_from_features(feats)
        probs = logits.float().softmax(dim=1)
        preds = probs.argmax(dim=1)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(probs.shape[0])]
        if len(data_samples) != probs.shape[0]:
            raise ValueError(f'{len(data_samples)} data samples for a batch of {probs.shape[0]} images')
        set_kinds = self.set_level_feature_kinds
        # Python floats of the float32 scores, converted once per batch (per-sample tensor indexing cost more than
        # the tiny tower's forward pass); the same values
        values = {name: s.detach().float().reshape(-1).cpu().tolist() for name, s in scores.items()}
        primary = torch.tensor(values.get(self.primary_score, [float('nan')] * probs.shape[0]), dtype=torch.float32)
        # what DataSample.set_pred_score / set_pred_label store (a (K,) float score, a (1,) long label, num_classes),
        # moved to the CPU once per batch rather than formatted (and synchronised) once per sample
        # (rows by one unbind per tensor: indexing a tensor once per sample costs three times as much)
        num_classes = probs.shape[1]
        rows = zip(probs.cpu().unbind(0), preds.cpu().view(-1, 1).unbind(0), primary.unbind(0),
                   zip(*values.values()) if values else itertools.repeat(()))
        kept = {k: feats[k].detach().cpu() for k in set_kinds}  # what the set-level heads score after the loop
        names = tuple(values)
        for i, (sample, (score, label, ood_score, row)) in enumerate(zip(data_samples, rows)):
            if 'num_classes' in sample and sample.num_classes != num_classes:
                raise ValueError(f'data sample {i} has num_classes={sample.num_classes}, the model {num_classes}')
            sample.set_field(num_classes, 'num_classes', field_type='metainfo')
            sample.set_field(score, 'pred_score', dtype=torch.Tensor)
            sample.set_field(label, 'pred_label', dtype=torch.Tensor)
            sample.set_field(dict(zip(names, row)), 'ood_scores')
            sample.set_field(ood_score, 'ood_score', dtype=torch.Tensor)
            if kept:  # gathered by SetLevelScoresHook
                sample.set_field({k: v[i] for k, v in kept.items()}, 'set_level_feats')
        return data_samples
