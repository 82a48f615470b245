"""TOE's real/virtual x image/text study: which auxiliary outliers help a linear head on frozen CLIP features.

Paper: S. Park, J. Mok, D. Jung, S. Lee, S. Yoon, "On the Powerfulness of Textual Outlier Exposure for Visual OoD
Detection", NeurIPS 2023, arXiv:2310.16492 (the analysis comparing real and virtual, image and text outliers on
ImageNet-10 / ImageNet-20 with CLIP ViT-B/32). The reference code for it (``run.py``, ``trainer_for_run.py``) is
incomplete and does not run (docs/toe.md, "The real/virtual study"); this is the study as described, on mmood's
pieces. One run = one cell and one auxiliary set, with a fresh head (the reference keeps training one model across
the four auxiliary sets):

=================  ========================================================================================
``real``/``text``   TOE's textual outlier exposure (:class:`TOEClassifier`) with the auxiliary set's class names
                    as ``'a photo of a {c}'`` (``outliers.word_source='list'``), CapDec noise, OE weight 0.5
``real``/``image``  outlier exposure with the auxiliary set's **images** (``aux_images``: their cached features,
                    raw projected like the ID ones, no noise), OE weight 0.5; an epoch is ``min(ID batches,
                    auxiliary batches)`` (the reference zips the two loaders)
``virtual``/...     no auxiliary data: VOS-style Gaussian virtual outliers (:mod:`mmood.models.losses.vos`) around
                    per-class queues of ID **image** features (``image``: the last ``queue_size`` raw projected
                    features of each class, updated every step) or of the ID **text** embeddings (``text``: the
                    class prompts of ``templates``, fixed), from epoch ``start_epoch``; loss CE + ``weight`` x the
                    uncertainty loss; an epoch is one pass over the ID batches
=================  ========================================================================================

The virtual draws are seeded by (seed, step): a resumed run draws what an uninterrupted one would.
"""
import math
from typing import Any, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmpretrain.registry import MODELS
from torch import Tensor

from ...text import encode_prompts_cached
from ...utils.errors import ConfigError, UserError
from ..losses import gaussian_virtual_outliers
from .plp import LinearProbeClassifier, batch_labels
from .toe import TOEClassifier

__all__ = ['TOEStudyClassifier', 'STUDY_CELLS']

#: (mode, domain) of the study's cells
STUDY_CELLS = (('real', 'image'), ('real', 'text'), ('virtual', 'image'), ('virtual', 'text'))


@MODELS.register_module()
class TOEStudyClassifier(TOEClassifier):
    """One cell of TOE's real/virtual x image/text study (module docstring).

    Args:
        mode: ``'real'`` or ``'virtual'``.
        domain: ``'image'`` or ``'text'``.
        aux_images: real/image: the auxiliary image dataset config (its features are cached like the ID ones).
        id_batch_size: ID images per step (the train dataloader's; sets the epoch length of real/image and
            virtual cells).
        queue_size: virtual/image: ID features kept per class (VOS: 100).
        num_samples: virtual: Gaussian draws per class (VOS: 10,000).
        select: virtual: draws kept per class, the lowest-density ones (VOS: 1).
        start_epoch: virtual: first epoch with virtual outliers (VOS: 40).
        cov_jitter: virtual: added to the shared covariance's diagonal (VOS: 1e-4).
        virtual_loss: virtual: config of :class:`~mmood.models.losses.VirtualOutlierLoss` (weight 0.1).
        kwargs: :class:`TOEClassifier` options (``outliers`` for real/text; ``templates`` for virtual/text).
    """

    checkpoint_required_prefixes = ('head.', 'class_counts', 'outlier_step')

    def __init__(self, mode: str, domain: str, aux_images: Optional[dict] = None, id_batch_size: int = 32,
                 queue_size: int = 100, num_samples: int = 10000, select: int = 1, start_epoch: int = 40,
                 cov_jitter: float = 1e-4, virtual_loss: dict = dict(type='VirtualOutlierLoss', weight=0.1),
                 **kwargs):
        if (mode, domain) not in STUDY_CELLS:
            raise ConfigError(f'(mode, domain) must be one of {STUDY_CELLS}, got {(mode, domain)}')
        if (mode, domain) == ('real', 'image') and not aux_images:
            raise ConfigError('the real/image cell needs aux_images (the auxiliary image dataset config)')
        if (mode, domain) != ('real', 'image') and aux_images:
            raise ConfigError(f'aux_images is only read by the real/image cell, not {mode}/{domain}')
        kwargs.setdefault('outliers', dict(level='word', word_source='list', source='unused'))
        super().__init__(**kwargs)
        self.mode, self.domain = mode, domain
        self.auxiliary_dataset = dict(aux_images) if aux_images else None
        self.id_batch_size = int(id_batch_size)
        self.queue_size, self.num_samples, self.select = int(queue_size), int(num_samples), int(select)
        self.start_epoch, self.cov_jitter = int(start_epoch), float(cov_jitter)
        self.virtual_loss = MODELS.build(virtual_loss) if mode == 'virtual' else None
        dim = self.head.in_channels
        if mode == 'virtual' and domain == 'image':
            self.register_buffer('queue', torch.zeros(self.num_classes, self.queue_size, dim))
            self.register_buffer('queue_count', torch.zeros(self.num_classes, dtype=torch.long))
        self.register_buffer('text_queue', None, persistent=False)
        self._aux_emb: Optional[Tensor] = None
        if mode == 'virtual':
            self.checkpoint_required_prefixes = self.checkpoint_required_prefixes + ('virtual_loss.', )

    @classmethod
    def config_text_inputs(cls, model_cfg: Dict[str, Any]) -> list:
        """Only the real/text cell reads an outlier list (the auxiliary class names)."""
        if (model_cfg.get('mode'), model_cfg.get('domain')) != ('real', 'text'):
            return []
        return super().config_text_inputs(model_cfg)

    @classmethod
    def config_image_inputs(cls, model_cfg: Dict[str, Any]) -> list:
        """The real/image cell reads the auxiliary set's images (``aux_images``)."""
        aux = model_cfg.get('aux_images')
        if (model_cfg.get('mode'), model_cfg.get('domain')) != ('real', 'image') or not aux:
            return []
        return [('model.aux_images', dict(aux))]

    # ------------------------------------------------------------------ preparation
    def prepare_auxiliary_features(self, aux_set: Any) -> None:
        """real/image: the auxiliary images' raw projected features (the head's outlier inputs)."""
        x = torch.from_numpy(np.array(aux_set.feats[self.feature_kind], dtype=np.float32))
        with torch.no_grad():
            self._aux_emb = self.head.project_input(x.to(self.class_counts.device)) if self.projection is not None \
                else x.to(self.class_counts.device)
        print_log(f'TOE study: {len(x)} auxiliary images (real/image outliers)', logger='current')

    def prepare_cached_training(self, train_set: Any, cache: Any = None, work_dir: Optional[str] = None,
                                root_dir: Optional[str] = None) -> np.ndarray:
        if (self.mode, self.domain) == ('real', 'text'):
            return super().prepare_cached_training(train_set, cache, work_dir, root_dir)
        labels = LinearProbeClassifier.prepare_cached_training(self, train_set, cache, work_dir, root_dir)
        id_batches = math.ceil(len(labels) / self.id_batch_size)
        if self.mode == 'real':
            if self._aux_emb is None:
                raise UserError('the real/image cell trains through the cached-feature loop, which hands it the '
                                'auxiliary images\' features (tools/train.py)')
            self.outlier_emb = self._aux_emb
            self.steps_per_epoch = min(id_batches, self.num_outlier_batches)
        else:
            self.steps_per_epoch = id_batches
            if self.domain == 'text':
                self.prepare()
                prompts = [t.format(c) for c in self.class_names for t in self.templates]
                emb = encode_prompts_cached(self.backbone, prompts, '{}', cache, self.text_batch_size,
                                            desc='encoding ID prompts')
                self.text_queue = emb.float().reshape(self.num_classes, len(self.templates), -1).to(
                    self.class_counts.device)
        print_log(f'TOE study {self.mode}/{self.domain}: {self.steps_per_epoch} iterations per epoch',
                  logger='current')
        return labels

    # ------------------------------------------------------------------ training
    def outlier_batch(self, step: int, rank: int = 0, world: int = 1) -> Tensor:
        """real/text: TOE's noisy text batch; real/image: the auxiliary images' features of this step, as they are
        (same seeded per-epoch permutations as TOE's outlier draws, no noise)."""
        if self.domain == 'text':
            return super().outlier_batch(step, rank, world)
        return self.outlier_rows(step, rank, world)[0]

    def _push(self, feats: Tensor, labels: Tensor) -> None:
        """FIFO per class: the newest ``queue_size`` features of each class."""
        for c in labels.unique().tolist():
            rows = feats[labels == c][-self.queue_size:]
            n = rows.shape[0]
            self.queue[c] = torch.cat([self.queue[c][n:], rows]) if n < self.queue_size else rows
            self.queue_count[c] = min(self.queue_size, int(self.queue_count[c]) + n)

    def virtual_outliers(self, step: int) -> Optional[Tensor]:
        """The virtual outliers of ``step``, or None before ``start_epoch`` or while a queue is not full."""
        if step < self.start_epoch * int(self.steps_per_epoch or 0):
            return None
        if self.domain == 'image':
            if int(self.queue_count.min()) < self.queue_size:
                return None
            queues = self.queue
        else:
            queues = self.text_queue
        gen = torch.Generator().manual_seed(self._seed(2, step))
        return gaussian_virtual_outliers(queues, self.num_samples, self.select, self.cov_jitter, gen)

    def loss(self, inputs: Any, data_samples: Any) -> Dict[str, Tensor]:
        if self.mode == 'real':
            return super().loss(inputs, data_samples)
        x = self.extract_feat(inputs)[self.feature_kind]
        labels = batch_labels(data_samples, x.device)
        logits = self.head.logits(x)
        step = int(self.outlier_step)
        self.outlier_step += 1
        if self.domain == 'image':
            with torch.no_grad():
                self._push(self.head.project_input(x).detach(), labels)
        losses = dict(loss_cls=F.cross_entropy(logits, labels.long()))
        virtual = self.virtual_outliers(step)
        if virtual is None:  # the logistic layer joins the graph with a zero loss (DDP sees every parameter)
            losses['loss_virtual'] = sum(p.sum() for p in self.virtual_loss.parameters()) * 0.0
        else:
            losses.update(self.virtual_loss(logits, self.head.embedding_logits(virtual.to(x.device))))
        with torch.no_grad():
            losses['label_acc'] = (logits.argmax(dim=1) == labels).float().mean()
        return losses

    def report_notes(self) -> List[str]:
        notes = LinearProbeClassifier.report_notes(self)
        if int(self.outlier_step):
            notes.append(f'TOE study cell {self.mode}/{self.domain}: head trained {int(self.outlier_step)} steps')
        return notes
