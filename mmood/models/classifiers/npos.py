"""NPOS: CLIP fine-tuned with non-parametric outlier synthesis (Tao et al., "Non-Parametric Outlier Synthesis",
ICLR 2023, arXiv 2303.02966; docs/npos.md).

Trained: the last ``backbone.trainable_blocks`` ViT blocks, ``ln_post`` and ``proj`` of CLIP's image tower (2 on
ViT-B/16: blocks 10 and 11) and a small outlier MLP φ (D -> 32 -> ReLU -> 1). Frozen: the trunk (run once and
cached as ``tokens``, or on the fly) and the text tower; the ID prototypes ``w_c`` are the 18-template ensemble
(``templates='npos18'``), recomputed at start-up, never saved. Per iteration, with raw embeddings ``f`` of the batch::

    L_id  = CE( s_i / ((||s_i|| + 1e-7) T), y_i ),  s_i = cos(f_i, W)        (LogitNorm, T = 8)
    queues <- the batch (gathered from every process): per class, the last N raw embeddings
    outliers v = synthesis of the full classes' queues (k-NN boundary points + Gaussian noise + rejection)
    L_reg = BCE( φ(f_i) -> 1, φ(v_j) -> 0 ), one mean over B + M                (zero before ``start_iter``)
    L     = L_id + λ L_reg                                                         (λ = 0.1)

Test scores (higher = more ID): ``mcm`` on the fine-tuned features (the config's ``MCMHead``, primary), ``outlier``
(φ's logit, :class:`~mmood.models.heads.NPOSHead`), ``energy`` and the other logit scores (``LogitHead``); the
reference's batch-Frobenius MSP ``npos_msp`` only as a parity option.

Checkpoints hold what is trained (the trainable blocks, ``ln_post``, ``proj``, φ), the queues with their counts and
write positions, the synthesis step and the iteration counter (resume equals an uninterrupted run); the frozen
trunk and text tower come from ``backbone.pretrained``.
"""
import logging
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_gather, get_world_size
from mmengine.logging import print_log
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...utils.errors import ConfigError
from .clip_ood import CLIPOODClassifier, clip_data_preprocessor
from .plp import batch_labels, is_feature_batch

__all__ = ['NPOSClassifier', 'gather_ranks', 'synthesis_note', 'synthesized_outlier_loss']


def gather_ranks(x: Tensor) -> Tensor:
    """The tensor of every process, in rank order (the synthesis queues stay identical on all ranks)."""
    if get_world_size() == 1:
        return x
    return torch.cat(all_gather(x.contiguous()))


def synthesis_note(model, label: str) -> str:
    """The report-header line of a model training with NPOS's synthesis: the state its checkpoint holds."""
    full = int(model.synthesis.ready().sum())
    return (f'{label}: {int(model.iteration)} training iterations, {full} of {model.num_classes} class queues full, '
            f'{int(model.synthesis.step)} synthesis steps (start_iter {model.start_iter})')


def synthesized_outlier_loss(model, features: Tensor, labels: Tensor, world: int):
    """NPOS's outlier term of one step, shared by the fine-tuned and the from-scratch models: push this step's ID
    ``features`` (every rank's) into the class queues, draw outliers once ``model.iteration`` reaches
    ``model.start_iter``, and the regulariser ``model.loss_reg`` on φ(features) → ID and φ(outliers) → OOD (φ =
    ``model.outlier_mlp``; outliers detached). Advances ``model.iteration``.

    Returns:
        ``(loss_reg, number of outliers)``.
    """
    model.synthesis.push(gather_ranks(features.detach()), gather_ranks(labels))
    if int(model.iteration) >= model.start_iter:
        outliers, _ = model.synthesis.sample()
    else:
        outliers = features.new_zeros(0, features.shape[1])
    id_logits = model.outlier_mlp(features).reshape(-1)
    out_logits = model.outlier_mlp(outliers.to(features).detach()).reshape(-1)
    loss = model.loss_reg(id_logits, out_logits, world_size=world)
    model.iteration += 1
    return loss, int(out_logits.numel())


def _drop_frozen_weights(module, state_dict, prefix, local_metadata) -> None:
    """state_dict post-hook: keep only the trained backbone parameters (the frozen trunk and text tower are rebuilt
    from ``backbone.pretrained``)."""
    keep = {prefix + 'backbone.' + name for name in module.trained_backbone_params}
    for key in [k for k in state_dict if k.startswith(prefix + 'backbone.') and k not in keep]:
        del state_dict[key]


def _frozen_weights_not_missing(module, incompatible_keys) -> None:
    """load_state_dict post-hook: the frozen backbone weights are absent from checkpoints by design."""
    keep = {'backbone.' + name for name in module.trained_backbone_params}
    incompatible_keys.missing_keys[:] = [k for k in incompatible_keys.missing_keys
                                         if not (k.startswith('backbone.') and k not in keep)]


@MODELS.register_module()
class NPOSClassifier(CLIPOODClassifier):
    """NPOS (module docstring): partial fine-tuning of CLIP's image tower with LogitNorm and outlier synthesis.

    ``loss`` takes cached trunk tokens (a dict with ``tokens`` (B, L, W), as served by the cached-feature loop) or
    images (the trunk runs on the fly), with a (B,) label tensor or data samples carrying ``gt_label``.

    Args:
        backbone: :class:`~mmood.models.backbones.OpenCLIPBackbone` with ``trainable_blocks`` > 0 and
            ``frozen=False``.
        class_names: ID class names (a file or a list).
        head: the primary score's head (``MCMHead(tau=1)``: MCM on the fine-tuned features).
        extra_heads: more heads (``NPOSHead`` for ``outlier``, ``LogitHead`` for ``energy``...).
        templates: prompt templates of the ID prototypes (``'npos18'``).
        synthesis: config of :class:`~mmood.models.losses.NPOSOutlierSynthesis` (``num_classes`` and ``feat_dim`` are
            filled in).
        loss_id: the ID loss on the prototype cosines (:class:`~mmood.models.losses.LogitNormLoss`).
        loss_reg: the outlier loss (:class:`~mmood.models.losses.OutlierRegLoss`, weight λ).
        start_iter: first iteration that synthesises outliers (the recipes' ``start_epoch`` × iterations per
            epoch, computed in the configs); before it ``L_reg`` is 0.
        mlp_hidden: width of the outlier MLP's hidden layer (32).
        logit_scale, cache_dir, text_batch_size, class_name_check, init_cfg: as :class:`CLIPOODClassifier`.
        data_preprocessor: defaults to CLIP normalisation that also passes cached feature batches.
    """

    #: the cached inputs (trunk tokens) are those of the open_clip weights whatever checkpoint is loaded
    checkpoint_changes_cached_inputs = False

    def __init__(self,
                 backbone: dict,
                 class_names: Union[str, Sequence[str]],
                 head: dict = dict(type='MCMHead', tau=1.0),
                 extra_heads: Sequence[dict] = (dict(type='NPOSHead'), ),
                 templates: Union[str, Sequence[str]] = 'npos18',
                 synthesis: dict = dict(type='NPOSOutlierSynthesis'),
                 loss_id: dict = dict(type='LogitNormLoss', temperature=8.0),
                 loss_reg: dict = dict(type='OutlierRegLoss', loss_weight=0.1),
                 start_iter: int = 0,
                 mlp_hidden: int = 32,
                 logit_scale: Optional[float] = 100.0,
                 cache_dir: Optional[str] = None,
                 text_batch_size: int = 1000,
                 class_name_check: str = 'names',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not int(dict(backbone).get('trainable_blocks', 0)):
            raise ConfigError('NPOS fine-tunes the last blocks of the image tower: set model.backbone.trainable_blocks '
                              '(2 in the recipes) and model.backbone.frozen=False')
        if data_preprocessor is None:
            data_preprocessor = clip_data_preprocessor(type='FeatureClsDataPreprocessor')
        super().__init__(backbone=backbone, class_names=class_names, head=head, extra_heads=extra_heads,
                         templates=templates, logit_scale=logit_scale, cache_dir=cache_dir,
                         text_batch_size=text_batch_size, class_name_check=class_name_check,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        dim = int(self.backbone.embed_dim)
        self.outlier_mlp = nn.Sequential(nn.Linear(dim, int(mlp_hidden)), nn.ReLU(), nn.Linear(int(mlp_hidden), 1))
        self.synthesis = MODELS.build(dict(synthesis, num_classes=self.num_classes, feat_dim=dim))
        self.loss_id = MODELS.build(loss_id)
        self.loss_reg = MODELS.build(loss_reg)
        if int(start_iter) < 0:
            raise ConfigError(f'start_iter must be >= 0, got {start_iter}')
        self.start_iter = int(start_iter)
        self.register_buffer('iteration', torch.zeros((), dtype=torch.long))
        self.register_state_dict_post_hook(_drop_frozen_weights)
        self.register_load_state_dict_post_hook(_frozen_weights_not_missing)

    # ------------------------------------------------------------------ what is trained and saved
    @property
    def trained_backbone_params(self) -> List[str]:
        """Names (under ``backbone.``) of the backbone parameters NPOS trains."""
        return [name for name, p in self.backbone.named_parameters() if p.requires_grad]

    @property
    def checkpoint_required_prefixes(self) -> tuple:
        """A checkpoint must hold every trained tensor and the synthesis state."""
        return tuple('backbone.' + n for n in self.trained_backbone_params) + (
            'outlier_mlp.', 'synthesis.', 'iteration')

    @property
    def cached_input_kinds(self) -> tuple:
        """What the cached-feature training loop serves: the trunk's tokens."""
        return ('tokens', )

    # ------------------------------------------------------------------ features
    def extract_feat(self, inputs: Any) -> Dict[str, Tensor]:
        """Features of a batch: cached ``tokens`` go through the trainable blocks, cached score features pass
        through, images go through the whole tower (the trunk under no_grad)."""
        if is_feature_batch(inputs):
            feats = dict(inputs) if isinstance(inputs, dict) else {'tokens' if inputs.ndim == 3 else 'global': inputs}
            if 'tokens' in feats:
                return self.backbone.tokens_to_features(feats['tokens'], self.feature_kinds)
            return feats
        return self.backbone.extract_image_features(inputs, self.feature_kinds)

    def _train_embed(self, inputs: Any) -> Tensor:
        if is_feature_batch(inputs):
            tokens = inputs.get('tokens') if isinstance(inputs, dict) else (inputs if inputs.ndim == 3 else None)
            if tokens is None:
                raise ConfigError('NPOS trains on images or on cached "tokens" (the trunk\'s output, (B, L, W)); got '
                                  f'cached {sorted(inputs) if isinstance(inputs, dict) else tuple(inputs.shape)}')
            return self.backbone.tokens_to_features(tokens, ('embed', ))['embed']
        return self.backbone.extract_image_features(inputs, ('embed', ))['embed']

    # ------------------------------------------------------------------ training
    def lent_to_heads(self) -> dict:
        """``outlier_mlp``: the trained outlier MLP (:class:`~mmood.models.heads.NPOSHead` scores with it)."""
        return dict(super().lent_to_heads(), outlier_mlp=self.outlier_mlp)

    def prepare_cached_training(self, train_set: Any, cache: Any = None, work_dir: Optional[str] = None,
                                root_dir: Optional[str] = None) -> np.ndarray:
        """Before training on cached tokens: the true labels of the ID-train set (read by the cached-feature loop)."""
        labels = np.asarray(train_set.labels, dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ConfigError(f'NPOS trains on labelled ID images: labels must lie in [0, {self.num_classes}), got '
                              f'[{labels.min()}, {labels.max()}]')
        counts = np.bincount(labels, minlength=self.num_classes)
        short = int((counts < self.synthesis.queue_size).sum())
        note = (f' ({short} classes have fewer images: their queues fill on a later pass over the data, with '
                f'repeated images, as in the reference)' if short else '')
        print_log(f'NPOS: {labels.size} ID-train images, {counts.min()}-{counts.max()} per class; queues of '
                  f'{self.synthesis.queue_size} per class{note}', logger='current',
                  level=logging.WARNING if short else logging.INFO)
        return labels

    def loss(self, inputs: Any, data_samples: Union[Tensor, List[DataSample]]) -> Dict[str, Tensor]:
        """LogitNorm cross-entropy against the prototypes plus λ × the outlier loss (module docstring)."""
        if not self._prepared:
            self.prepare()
        embed = self._train_embed(inputs)
        labels = batch_labels(data_samples, embed.device)
        cos = F.normalize(embed, dim=-1) @ self.id_text.to(embed.dtype).T
        loss_id = self.loss_id(cos, labels)
        loss_reg, num_outliers = synthesized_outlier_loss(self, embed, labels, get_world_size())
        with torch.no_grad():
            acc = (cos.argmax(dim=1) == labels).float().mean()
        return dict(loss_id=loss_id, loss_reg=loss_reg, label_acc=acc,
                    outliers=torch.tensor(float(num_outliers), device=embed.device),
                    full_classes=self.synthesis.ready().sum().float())

    def report_notes(self) -> List[str]:
        """Report header lines: the synthesis state the checkpoint holds."""
        return super().report_notes() + [synthesis_note(self, 'NPOS')]
