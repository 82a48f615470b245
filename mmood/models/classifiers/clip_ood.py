"""Zero-shot CLIP classifier with an OOD score head."""
import logging
import os
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ...cache import CacheStore
from ...text import build_text_classifier_cached, load_class_names, resolve_templates
from ...utils import compute_on_main

CLIP_MEAN = [0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255]
CLIP_STD = [0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255]


def clip_data_preprocessor(**kwargs) -> dict:
    """mmpretrain ``ClsDataPreprocessor`` with CLIP's mean/std (0-255 scale) and BGR->RGB."""
    return dict(dict(type='ClsDataPreprocessor', mean=CLIP_MEAN, std=CLIP_STD, to_rgb=True), **kwargs)


def build_data_preprocessor(cfg=None):
    """Build a data preprocessor config (default: :func:`clip_data_preprocessor`) in mmpretrain's registry
    (mmengine's ``BaseModel`` would look the type up in its root registry); modules pass through."""
    if cfg is None:
        cfg = clip_data_preprocessor()
    return MODELS.build(cfg) if isinstance(cfg, dict) else cfg


@MODELS.register_module()
class CLIPOODClassifier(BaseModel):
    """Backbone + class names + prompts + an OOD score head.

    ``predict`` returns data samples with the zero-shot class probabilities (``pred_score``), the predicted
    label and ``ood_score`` (higher = more ID). Text-side state (ID prototypes, NegLabel negatives) is built by
    :meth:`prepare` -- called by :class:`~mmood.engine.hooks.OODPrepareHook` before testing, or lazily on the
    first forward -- once on rank 0 and broadcast.

    Args:
        backbone: config of :class:`~mmood.models.backbones.OpenCLIPBackbone`.
        class_names: list of ID class names or a text file with one per line.
        head: config of an OOD head (``MCMHead``, ``NegLabelHead``...).
        templates: ID prompt templates: a named set (``'mcm'``, ``'neglabel'``, ``'plp5'``) or a list.
        logit_scale: scale of cosines for the ID class probabilities (100 = OpenAI CLIP's; None = the model's).
        cache_dir: shared cache directory for text embeddings and mined negatives (None disables caching; the
            tools fill in the user's cache folder).
        text_batch_size: prompts per text forward.
        data_preprocessor: defaults to CLIP normalisation.
    """

    def __init__(self,
                 backbone: dict,
                 class_names: Union[str, Sequence[str]],
                 head: dict,
                 templates: Union[str, Sequence[str]] = 'mcm',
                 logit_scale: Optional[float] = 100.0,
                 cache_dir: Optional[str] = None,
                 text_batch_size: int = 1000,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor), init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)
        self.class_names: List[str] = load_class_names(class_names)
        self.templates = resolve_templates(templates)
        self.logit_scale = logit_scale
        self.cache_dir = cache_dir
        self.text_batch_size = text_batch_size
        self.register_buffer('id_text', torch.zeros(0), persistent=False)
        self._prepared = False

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    #: whether a checkpoint loaded over the open_clip weights can change the tower (and so the text and image
    #: features); a model whose checkpoints hold only a head sets this to False.
    checkpoint_changes_features = True

    def note_checkpoint(self, checkpoint: Optional[str]) -> None:
        """Tell the model which checkpoint was loaded on top of its open_clip weights (text-cache keys)."""
        if checkpoint and self.checkpoint_changes_features:
            self.backbone.note_checkpoint(checkpoint)

    def prepare(self, work_dir: Optional[str] = None, force: bool = False, checkpoint: Optional[str] = None) -> None:
        """Encode the ID prompts and let the head build its text state (once; idempotent).

        Args:
            work_dir: where to write readable records (mined negatives).
            force: prepare again even if already prepared.
            checkpoint: a checkpoint loaded over the open_clip weights (``load_from``), part of the text-cache keys.
        """
        self.note_checkpoint(checkpoint)
        if self._prepared and not force:
            return
        cache = CacheStore(self.cache_dir) if self.cache_dir else None
        device = next(self.backbone.parameters()).device

        def encode_id():
            return build_text_classifier_cached(self.backbone, self.class_names, self.templates, cache,
                                                self.text_batch_size).cpu()

        self.id_text = compute_on_main(encode_id).to(device)
        if work_dir:
            os.makedirs(work_dir, exist_ok=True)
        self.head.prepare(dict(backbone=self.backbone, id_text=self.id_text, class_names=self.class_names,
                               templates=self.templates, cache=cache, work_dir=work_dir,
                               batch_size=self.text_batch_size))
        self._prepared = True
        print_log(f'{type(self).__name__}: {self.num_classes} ID classes, templates {self.templates}, '
                  f'head {type(self.head).__name__}', logger='current', level=logging.INFO)

    def extract_feat(self, inputs: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Image features of the kinds the head needs (plus ``global``)."""
        kinds = tuple(dict.fromkeys(('global', ) + tuple(self.head.feature_kinds)))
        return self.backbone.extract_image_features(inputs, kinds)

    def scores_from_features(self, feats: Dict[str, torch.Tensor]):
        """(ID logits (B, K), OOD scores (B,)) from features: the one scoring path for images and caches."""
        if not self._prepared:
            self.prepare()
        scale = float(self.logit_scale) if self.logit_scale is not None else float(self.backbone.logit_scale)
        logits = scale * feats['global'] @ self.id_text.T
        return logits, self.head(feats, self.id_text)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None, mode: str = 'tensor'):
        if mode == 'tensor':
            with torch.no_grad():
                return self.scores_from_features(self.extract_feat(inputs))[1]
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            raise RuntimeError(f'{type(self).__name__} is a zero-shot model with nothing to train; use '
                               f'tools/test.py (mode="loss" is unsupported).')
        raise ValueError(f'Invalid mode "{mode}".')

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        logits, ood = self.scores_from_features(self.extract_feat(inputs))
        probs = logits.float().softmax(dim=1)
        preds = probs.argmax(dim=1)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        for sample, p, label, s in zip(data_samples, probs, preds, ood):
            sample.set_pred_score(p).set_pred_label(label)
            sample.set_field(s.detach().float().reshape(()), 'ood_score', dtype=torch.Tensor)
        return data_samples
