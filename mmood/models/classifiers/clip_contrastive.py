"""Contrastive (CLIP) training of an open_clip model on image-caption pairs.

``loss`` mode encodes the images and their captions (``data_sample.text``, packed by
``PackInputs(algorithm_keys=('text', ))``) with a trainable :class:`~mmood.models.backbones.OpenCLIPBackbone`
and applies :class:`~mmood.models.losses.CLIPContrastiveLoss` with the model's own logit scale. ``predict`` mode
is zero-shot top-1 classification on class prompts (validation accuracy with mmpretrain's ``Accuracy``).

Checkpoints are ordinary mmengine checkpoints whose open_clip weights sit under ``backbone.clip.``;
:func:`export_open_clip_weights` (``tools/export_clip_weights.py``) turns one into a plain open_clip
``state_dict`` file that ``OpenCLIPBackbone(pretrained=<file>)`` loads, e.g. for the zero-shot OOD configs.
"""
import math
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModel
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ...text import load_class_names, resolve_templates
from .clip_ood import build_data_preprocessor

OPEN_CLIP_PREFIX = 'backbone.clip.'


def captions_of(data_samples: Optional[List[DataSample]], text_key: str, who: str) -> List[str]:
    """The caption of every data sample (``data_sample.<text_key>``), or a clear error naming the packing step."""
    if not data_samples or any(text_key not in s for s in data_samples):
        raise ValueError(f'{who} trains on image-caption pairs and needs a caption per sample in '
                         f"data_sample.{text_key}; pack it with PackInputs(algorithm_keys=('{text_key}', ))")
    return [str(s.get(text_key)) for s in data_samples]


@MODELS.register_module()
class CLIPContrastiveModel(BaseModel):
    """Train both CLIP towers with the symmetric contrastive loss.

    Args:
        backbone: config of :class:`~mmood.models.backbones.OpenCLIPBackbone`; ``frozen`` defaults to False here.
        loss: config of the contrastive loss.
        class_names: class names (list or file) for ``predict`` (zero-shot validation); None disables predict.
        templates: prompt templates for the class names (named set or list).
        max_logit_scale: clamp of the exponentiated logit scale (CLIP: 100).
        frozen_prefixes: parameter-name prefixes inside the open_clip model to keep fixed, e.g.
            ``('token_embedding', )``: the 49,408-row token table is most of a tiny model's parameters and
            optimizer time, and random token vectors serve a small vocabulary as well as trained ones.
        text_key: data-sample field holding the caption string.
        data_preprocessor: defaults to CLIP normalisation with BGR->RGB.
        init_cfg: mmengine init config.
    """

    #: a checkpoint of this model must hold the whole open_clip model (what it trains)
    checkpoint_required_prefixes = ('backbone.clip.', )

    def __init__(self,
                 backbone: dict,
                 loss: dict = dict(type='CLIPContrastiveLoss'),
                 class_names: Optional[Union[str, Sequence[str]]] = None,
                 templates: Union[str, Sequence[str]] = 'mcm',
                 max_logit_scale: float = 100.0,
                 frozen_prefixes: Sequence[str] = (),
                 text_key: str = 'text',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=build_data_preprocessor(data_preprocessor), init_cfg=init_cfg)
        backbone = dict(backbone)
        backbone.setdefault('frozen', False)
        self.backbone = MODELS.build(backbone)
        self.loss_module = MODELS.build(loss)
        self.frozen_prefixes = tuple(frozen_prefixes)
        if self.frozen_prefixes:
            matched = [n for n, p in self.backbone.clip.named_parameters() if n.startswith(self.frozen_prefixes)]
            if not matched:
                raise ValueError(f'frozen_prefixes {self.frozen_prefixes} match no parameter of the open_clip model')
            for name, param in self.backbone.clip.named_parameters():
                if name.startswith(self.frozen_prefixes):
                    param.requires_grad_(False)
        self.class_names: Optional[List[str]] = load_class_names(class_names) if class_names is not None else None
        self.templates = resolve_templates(templates)
        self.max_log_scale = math.log(max_logit_scale)
        self.text_key = text_key
        # class prototypes of predict(), encoded once per evaluation: dropped when training resumes or weights load
        self._class_text = None
        self.register_load_state_dict_post_hook(lambda module, keys: module._forget_class_text())

    def _forget_class_text(self) -> None:
        self._class_text = None

    def train(self, mode: bool = True):
        """Switch modes; entering training drops the class prototypes encoded by :meth:`predict`."""
        if mode:
            self._forget_class_text()
        return super().train(mode)

    @property
    def logit_scale(self) -> torch.Tensor:
        """``exp(logit_scale)`` clamped to ``max_logit_scale`` (differentiable below the clamp)."""
        return self.backbone.clip.logit_scale.clamp(max=self.max_log_scale).exp()

    def _texts(self, data_samples: Optional[List[DataSample]]) -> List[str]:
        return captions_of(data_samples, self.text_key, type(self).__name__)

    def forward(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None, mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.backbone.encode_image(inputs)
        raise ValueError(f'Invalid mode "{mode}".')

    def loss(self, inputs: torch.Tensor, data_samples: List[DataSample]) -> Dict[str, torch.Tensor]:
        """Contrastive loss of the batch (global batch under DDP); also logs the logit scale."""
        texts = self._texts(data_samples)
        image_feats = self.backbone.encode_image(inputs)
        text_feats = self.backbone.encode_text(texts, batch_size=max(len(texts), 1))
        scale = self.logit_scale
        return dict(loss=self.loss_module(image_feats, text_feats, scale), logit_scale=scale.detach())

    @torch.no_grad()
    def predict(self, inputs: torch.Tensor, data_samples: Optional[List[DataSample]] = None) -> List[DataSample]:
        """Zero-shot top-1 on the class prompts (``pred_score``, ``pred_label``); the prompts are encoded once per
        evaluation (the towers do not change until training resumes)."""
        if self.class_names is None:
            raise RuntimeError(f'{type(self).__name__}.predict needs `class_names` (zero-shot validation).')
        if self._class_text is None or self.training:  # the towers do not change during an evaluation
            self._class_text = self.backbone.build_text_classifier(self.class_names, self.templates)
        logits = self.logit_scale * self.backbone.encode_image(inputs) @ self._class_text.T
        probs = logits.softmax(dim=1)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(inputs.shape[0])]
        for sample, p in zip(data_samples, probs):
            sample.set_pred_score(p).set_pred_label(p.argmax())
        return data_samples


def open_clip_state_dict(checkpoint: Union[str, dict], prefix: str = OPEN_CLIP_PREFIX) -> Dict[str, torch.Tensor]:
    """The open_clip ``state_dict`` inside an mmengine checkpoint (keys under ``prefix``, prefix removed).

    Args:
        checkpoint: path of an mmengine checkpoint, or its loaded dict (with or without a ``state_dict`` key).
        prefix: key prefix of the open_clip model (``backbone.clip.`` for mmood's CLIP models; a leading
            ``module.`` from DDP wrappers is stripped first).

    Returns:
        Ordered dict of tensors, loadable by ``open_clip.create_model(name, pretrained=<saved file>)``.
    """
    if isinstance(checkpoint, str):
        from ...utils import load_checkpoint_file
        checkpoint = load_checkpoint_file(checkpoint)
    state = checkpoint.get('state_dict', checkpoint)
    out = {}
    for key, value in state.items():
        if key.startswith('module.'):
            key = key[len('module.'):]
        if key.startswith(prefix):
            out[key[len(prefix):]] = value.detach().cpu().clone()
    if not out:
        raise KeyError(f'No weights under "{prefix}" in the checkpoint (is it an mmood CLIP model checkpoint?)')
    return out


def export_open_clip_weights(checkpoint: Union[str, dict], out_file: str, prefix: str = OPEN_CLIP_PREFIX) -> str:
    """Write the open_clip weights of an mmengine checkpoint to ``out_file`` (atomically).

    The file is written under a temporary name and renamed into place, so a reader never sees a partial file
    and a re-export gets a new modification time (the backbone's weights identity changes with it).

    Returns:
        ``out_file``.
    """
    state = open_clip_state_dict(checkpoint, prefix)
    folder = osp.dirname(osp.abspath(out_file))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix='.pth', dir=folder)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, out_file)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return out_file
