"""PLP: a linear probe on frozen CLIP image features, trained on zero-shot pseudo-labels.

Paper: N. Adaloglou, F. Michels, T. Kaiser, M. Kollmann, "Adapting Contrastive Language-Image Pretrained (CLIP)
Models for Out-of-Distribution Detection", TMLR 2024, arXiv:2303.05828. See docs/plp.md.

Pipeline (every step cached, no image decoded after the one extraction):

1. pre-projection image features ``x`` of the ID train, ID test and OOD sets (feature cache, kind ``pre_proj``);
2. pseudo-labels ``y(x) = argmax_c normalize(x) W t_c`` with the 5-prompt ensemble ``t_c``
   (:mod:`mmood.text.pseudo_labels`; cached);
3. a :class:`~mmood.models.heads.LinearProbeHead` ``l(x) = W' (x − μ)/σ + b`` trained with cross-entropy on
   ``y`` (Adam, coupled weight decay 1e-3, warm-up + cosine per iteration:
   :class:`~mmood.engine.WarmupCosineLR`), on cached features through the ``CachedFeature*Loop`` loops;
4. OOD scores ``plp_energy`` ``T·logsumexp(l/T)`` (primary by default) and ``plp_msp`` of the probe's logits,
   **higher = more ID**.

The classifier is a :class:`CLIPOODClassifier` (frozen open_clip tower, class names, prompts, cache folder), so
``tools/test.py`` on images, ``tools/extract_features.py`` and ``tools/score.py`` treat it like the zero-shot
configs. Its checkpoints hold the probe, the z-score statistics and the pseudo-label counts only: the frozen tower
is rebuilt from the open_clip weights (a ViT-bigG-14 checkpoint takes ~20 MB with Adam's state instead of
~10 GB), and a checkpoint does not change the cached image features (``checkpoint_changes_features = False``).
"""
import json
import logging
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmpretrain.models.utils import ClsDataPreprocessor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...cache import hash_strings
from ...text.pseudo_labels import (cached_pseudo_labels, compute_pseudo_labels, describe_pseudo_labels,
                                   label_counts, log_pseudo_labels, resolve_class_names, unlabelled_classes)
from ...utils import atomic_open, compute_on_main
from ..heads.plp_head import LinearProbeHead, zscore_statistics
from .clip_ood import CLIPOODClassifier, clip_data_preprocessor
from ...utils.errors import ConfigError

__all__ = ['LinearProbeClassifier', 'FeatureClsDataPreprocessor', 'is_feature_batch']

TRAIN_LABELS = ('pseudo', 'true')


def is_feature_batch(inputs: Any) -> bool:
    """Whether ``inputs`` are cached features -- (B, D) rows, (B, P, D) local features, (B, L, W) trunk tokens
    (the ``tokens`` kind), or a dict of kinds -- rather than images: a (B, C, H, W) tensor or a list of (C, H, W)
    ones. A feature tensor has at most 3 dims (3-D ones are per-token features, never images: an image batch is
    always 4-D), so a 3-D tensor is features whatever its sizes."""
    if isinstance(inputs, dict):
        return True
    if not isinstance(inputs, Tensor):
        return False  # a list of (C, H, W) images before collation
    return inputs.ndim < 4


def batch_labels(data_samples: Any, device: torch.device) -> Tensor:
    """A training batch's (B,) long labels on ``device``: the samples' ``gt_label`` (a list of data samples), or a
    label tensor as it is (the cached-feature loops' fast path).

    Raises:
        ConfigError: a data sample without ``gt_label``.
    """
    if isinstance(data_samples, Tensor):
        return data_samples.to(device=device, dtype=torch.long).reshape(-1)
    if not data_samples or any('gt_label' not in s for s in data_samples):
        raise ConfigError('Training needs a label per sample (gt_label)')
    return torch.cat([s.gt_label.reshape(-1) for s in data_samples]).to(device=device, dtype=torch.long)


@MODELS.register_module()
class FeatureClsDataPreprocessor(ClsDataPreprocessor):
    """mmpretrain's ``ClsDataPreprocessor`` that also accepts batches of cached features.

    Image batches are normalised as usual (this preprocessor is what the feature cache's key records); feature
    batches (``inputs`` a (B, D) tensor or a dict of kinds, see :func:`is_feature_batch`) are only moved to the
    model's device.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        if is_feature_batch(data['inputs']):
            return self.cast_data(data)
        return super().forward(data, training)


@MODELS.register_module()
class LinearProbeClassifier(CLIPOODClassifier):
    """Frozen open_clip tower + linear probe trained on pseudo-labels (PLP); OOD score of the probe's logits.

    ``loss`` and ``predict`` take images ((B, 3, H, W); the frozen tower computes the feature) or cached features
    (a (B, D) tensor or a dict of kinds, as served by :class:`~mmood.features.CachedFeatureDataset`). In training
    mode the data samples may be a (B,) label tensor (the fast path of cached features) or a list of data samples.

    Args:
        backbone: config of :class:`~mmood.models.backbones.OpenCLIPBackbone` (must stay frozen).
        class_names: ``'plp_first_synonym'`` (PLP's ImageNet names, default), a file, or a list.
        head: config of :class:`~mmood.models.heads.LinearProbeHead`; ``in_channels`` and ``num_classes`` are
            filled from the backbone's feature width and the class names.
        extra_heads: more heads scored from the same features (``tools/score.py --methods`` adds its methods' here).
        primary_score: the primary score (default: the probe head's first).
        templates: prompt templates of the pseudo-labelling classifier (``'plp5'``, PLP's 5-prompt ensemble).
        train_labels: ``'pseudo'`` (PLP: zero-shot argmax) or ``'true'`` (the dataset's labels: a supervised probe).
        loss: classification loss config (cross-entropy on hard labels).
        pseudo_label_batch_size: rows per batch when computing pseudo-labels.
        logit_scale: scale of the zero-shot cosines (used by ``tools/score.py``'s zero-shot methods).
        cache_dir: the shared cache (text embeddings, features, pseudo-labels); the tools fill it in.
        text_batch_size: prompts per text forward.
        data_preprocessor: defaults to CLIP normalisation with BGR->RGB, accepting feature batches too.
        init_cfg: mmengine init config.
    """

    #: the checkpoint holds the probe only; image features are those of the open_clip weights.
    checkpoint_changes_features = False
    #: what a checkpoint must hold: the trained probe, its z-score statistics and its label counts
    checkpoint_required_prefixes = ('head.', 'class_counts')

    def __init__(self,
                 backbone: dict,
                 class_names: Union[str, Sequence[str]] = 'plp_first_synonym',
                 head: dict = dict(type='LinearProbeHead'),
                 extra_heads: Sequence[dict] = (),
                 primary_score: Optional[str] = None,
                 templates: Union[str, Sequence[str]] = 'plp5',
                 train_labels: str = 'pseudo',
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 pseudo_label_batch_size: int = 65536,
                 logit_scale: Optional[float] = 100.0,
                 cache_dir: Optional[str] = None,
                 text_batch_size: int = 1000,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if train_labels not in TRAIN_LABELS:
            raise ConfigError(f'train_labels must be one of {TRAIN_LABELS}, got {train_labels!r}')
        if not dict(backbone).get('frozen', True):
            raise ConfigError('LinearProbeClassifier trains a probe on a frozen tower; set backbone.frozen=True')
        if data_preprocessor is None:
            data_preprocessor = clip_data_preprocessor(type='FeatureClsDataPreprocessor')
        super().__init__(backbone=backbone, class_names=resolve_class_names(class_names), head=head,
                         extra_heads=extra_heads, primary_score=primary_score, templates=templates,
                         logit_scale=logit_scale, cache_dir=cache_dir,
                         text_batch_size=text_batch_size, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not isinstance(self.head, LinearProbeHead):
            raise TypeError(f'LinearProbeClassifier needs a LinearProbeHead, got {type(self.head).__name__}')
        self.head.setup(self.feature_dim, self.num_classes)
        self.head.set_projection(self.projection)
        self.train_labels = train_labels
        self.check_text_users()
        self.loss_module = MODELS.build(loss)
        self.pseudo_label_batch_size = int(pseudo_label_batch_size)
        # samples per class the probe was trained on (saved with the probe; logged and reported at test time)
        self.register_buffer('class_counts', torch.zeros(self.num_classes, dtype=torch.long))
        self.keep_frozen_tower_out_of_checkpoints()

    @property
    def classifies_with_text(self) -> bool:
        """The probe classifies; only its pseudo-labels (``train_labels='pseudo'``) come from the text side."""
        return self.train_labels == 'pseudo'

    # ------------------------------------------------------------------ features
    @property
    def feature_kind(self) -> str:
        """The feature kind the probe reads (``pre_proj`` in PLP)."""
        return self.head.feature

    @property
    def cached_input_kinds(self) -> tuple:
        """Kinds a batch of cached features must hold (read by the ``CachedFeature*Loop`` loops)."""
        return (self.feature_kind, )

    @property
    def feature_dim(self) -> int:
        """Width of :attr:`feature_kind` for this backbone (``pre_proj``: before the projection, if any)."""
        if self.head.project and self.feature_kind != 'pre_proj':
            raise ConfigError(f'A head with project=True reads "pre_proj" features, not {self.feature_kind!r}')
        if self.feature_kind == 'pre_proj' and self.head.project:
            return self.backbone.embed_dim
        if self.feature_kind in ('pre_proj', 'global'):
            return self.backbone.feature_dim(self.feature_kind)
        raise ConfigError(f'A linear probe reads pooled features ("pre_proj" or "global"), not {self.feature_kind!r}')

    @property
    def projection(self) -> Optional[Tensor]:
        """``W`` mapping :attr:`feature_kind` to the text space (None when it is already there)."""
        return self.backbone.projection if self.feature_kind == 'pre_proj' else None

    def extract_feat(self, inputs: Any) -> Dict[str, Tensor]:
        """Features of a batch: cached feature rows pass through, images go through the frozen tower."""
        if is_feature_batch(inputs):
            return dict(inputs) if isinstance(inputs, dict) else {self.feature_kind: inputs}
        with torch.no_grad():
            return super().extract_feat(inputs)

    def class_logits(self, feats: Dict[str, Tensor]) -> Tensor:
        """The probe's logits (B, C): the predicted class of a linear-probe classifier."""
        return self.head.logits(feats[self.feature_kind])

    # ------------------------------------------------------------------ pseudo-labels
    def lent_to_heads(self) -> dict:
        """``probe``: the trained linear probe (PLP's logit, KNN and Mahalanobis heads read it); ``pseudo_labels``:
        the zero-shot labels of raw features (heads fitted with ``labels='pseudo'``)."""
        return dict(super().lent_to_heads(), probe=self.head, pseudo_labels=self.pseudo_labels)

    def pseudo_labels(self, feats: Any, progress: bool = False) -> np.ndarray:
        """Zero-shot argmax ``normalize(x) W t_c`` of (N, D) features of :attr:`feature_kind` (not cached)."""
        self.prepare()
        return compute_pseudo_labels(feats, self.id_text, self.projection, self.pseudo_label_batch_size,
                                     self.id_text.device, progress)

    def pseudo_label_key(self, feature_meta: dict) -> dict:
        """Cache key parts of the pseudo-labels of one cached feature entry (its ``meta.json``)."""
        return dict(features=dict(key_parts=feature_meta.get('key_parts'),
                                  manifest=feature_meta.get('manifest_digest')),
                    text=dict(backbone=self.backbone.identity, class_names=hash_strings(self.class_names),
                              num_classes=self.num_classes, templates=list(self.templates)),
                    feature=self.feature_kind, tower_kind=self.backbone.pre_proj_kind,
                    rule='argmax_c normalize(x) @ W @ t_c')

    # ------------------------------------------------------------------ training on cached features
    def prepare_cached_training(self, train_set: Any, cache: Any = None, work_dir: Optional[str] = None,
                                root_dir: Optional[str] = None) -> np.ndarray:
        """Before training on cached features: fit the z-score statistics, return the training labels.

        Called by :class:`~mmood.engine.CachedFeatureTrainLoop` with the cached ID-train set. Pseudo-labels are
        computed once (rank 0) and cached; the per-class counts are logged, stored with the probe and written
        to ``<work_dir>/pseudo_labels.json``.

        Args:
            train_set: a :class:`~mmood.features.CachedSet` holding :attr:`feature_kind`.
            cache: the :class:`~mmood.cache.CacheStore` for the pseudo-labels (None: not cached).
            work_dir: where to write ``pseudo_labels.json`` (the run's log folder).
            root_dir: the runner's work folder (kept across runs; unused here, read by subclasses).

        Returns:
            (N,) int64 labels, in the order of the cached rows.
        """
        feats = train_set.feats[self.feature_kind]
        if self.head.zscore:
            mean, std = zscore_statistics(feats, transform=self.head.project_input)
            guarded = self.head.set_statistics(mean, std)
            print_log(f'Linear probe: z-score statistics of {feats.shape[0]} ID-train features '
                      f'({self.feature_kind}{" projected" if self.head.project else ""}, width '
                      f'{self.head.in_channels}); {guarded} zero-variance columns only centred.', logger='current')
        else:  # unscaled inputs: identity statistics (they also mark the head as trained in its checkpoints)
            self.head.set_statistics(torch.zeros(self.head.in_channels), torch.ones(self.head.in_channels))
        if self.train_labels == 'true':
            labels = np.asarray(train_set.labels, dtype=np.int64)
            if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
                raise ConfigError(f'train_labels="true" needs labels in [0, {self.num_classes}) in the ID-train set')
        else:
            self.prepare()
            key = self.pseudo_label_key(train_set.metas[self.feature_kind])
            labels, hit = compute_on_main(lambda: cached_pseudo_labels(
                lambda: self.pseudo_labels(feats, progress=True), key, cache))
            print_log(f'PLP pseudo-labels {"read from the cache" if hit else "computed and cached"} '
                      f'({len(labels)} images, templates {self.templates}).', logger='current')
        counts = label_counts(labels, self.num_classes)
        self.class_counts.copy_(torch.from_numpy(counts))
        line = log_pseudo_labels(counts, self.class_names) if self.train_labels == 'pseudo' else \
            describe_pseudo_labels(counts, self.class_names, what='label')
        if work_dir and is_main_process():
            os.makedirs(work_dir, exist_ok=True)
            with atomic_open(osp.join(work_dir, 'pseudo_labels.json'), 'w') as f:
                json.dump(dict(train_labels=self.train_labels, summary=line, num_samples=int(counts.sum()),
                               unlabelled_classes=[dict(index=c, name=self.class_names[c])
                                                   for c in unlabelled_classes(counts)],
                               counts=counts.tolist()), f, indent=1)
        return labels

    def report_notes(self) -> List[str]:
        """Lines for run reports: duplicate class names, then what the probe was trained on (after training)."""
        counts = self.class_counts.cpu().numpy()
        if counts.sum() == 0:
            return super().report_notes()
        what = 'pseudo-label' if self.train_labels == 'pseudo' else 'label'
        return super().report_notes() + [
            f'linear probe ({self.head.score} of its logits, {self.feature_kind} features) trained on '
            f'{self.train_labels} labels; ' + describe_pseudo_labels(counts, self.class_names, what=what)]

    def prepare(self, work_dir: Optional[str] = None, force: bool = False, checkpoint: Optional[str] = None) -> None:
        was_prepared = self._prepared
        super().prepare(work_dir, force, checkpoint)
        if not was_prepared:
            for note in self.report_notes():
                print_log(note, logger='current', level=logging.INFO)

    # ------------------------------------------------------------------ mmengine modes
    def loss(self, inputs: Any, data_samples: Union[Tensor, List[DataSample]]) -> Dict[str, Tensor]:
        """Cross-entropy of the probe's logits against the batch's (pseudo-)labels; logs their accuracy."""
        x = self.extract_feat(inputs)[self.feature_kind]
        labels = batch_labels(data_samples, x.device)
        logits = self.head.logits(x)
        with torch.no_grad():
            acc = (logits.argmax(dim=1) == labels).float().mean()
        return dict(loss=self.loss_module(logits, labels), label_acc=acc)
