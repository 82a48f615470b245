"""NPOS trained from scratch on CIFAR: a CIFAR ResNet with CIDER's prototype objective and NPOS's synthesised-outlier
regularisation, scored with KNN (Tao et al., "Non-Parametric Outlier Synthesis", ICLR 2023, arXiv 2303.02966,
Sec. 3-4 and the CIFAR experiments; the ID loss is CIDER's, Ming et al., ICLR 2023, arXiv 2203.04450; docs/npos.md
"From scratch on CIFAR").

Model (the reference's ``SupCEHeadResNet``): a CIFAR ResNet-18 / -34 encoder (:class:`~mmood.models.backbones.
CIFARResNetBackbone`) giving ``h ∈ R^512``; a projection head ``g`` (512 → 512 → ReLU → 128) with ``z = g(h)/‖g(h)‖``;
an outlier MLP ``φ`` (512 → 128 → ReLU → 1) on the raw ``h``. Per iteration, with the 2B views of B images (all first
views, then all second views; labels repeated)::

    L_dis, L_comp  CIDER on z with EMA prototypes (mmood.models.losses.cider)           (weights 0.5, 1)
    queues <- h (detached, raw, both views, gathered from every process)
    outliers v = NPOS synthesis from the full class queues                              (from ``start_iter``)
    L_reg = BCE( φ(h_n) -> 1, φ(v_k) -> 0 ), one mean over 2B + M                      (λ = 0.1)
    L     = 0.5·L_dis + 1.0·L_comp + 0.1·L_reg

Scores (higher = more in-distribution): ``knn`` = −‖ĥ − ĥ_(K)‖², the squared distance from the unit feature ĥ to its
K-th nearest unit CIFAR-train feature, K = 300 (the config's ``KNNHead`` on the ``global`` kind, primary); ``outlier``
= φ(h) (:class:`~mmood.models.heads.NPOSHead`). The ID class prediction is the nearest prototype (``z·μᵀ/τ``).

The reference's ``fc`` layer (512 → C) is optimised but never enters a loss or a score: it is left out.
"""
import logging
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import print_log
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ...utils.errors import ConfigError
from ..losses import gather_features
from .clip_ood import CLIPOODClassifier
from .npos import synthesis_note, synthesized_outlier_loss
from .plp import FeatureClsDataPreprocessor, batch_labels, is_feature_batch

__all__ = ['NPOSCIFARClassifier', 'MultiViewDataPreprocessor', 'CIFAR10_MEAN', 'CIFAR10_STD', 'CIFAR10_EVAL_STD',
           'CIFAR100_MEAN', 'CIFAR100_STD']

#: the reference's normalisation constants, x 255 (RGB)
CIFAR10_MEAN = [125.307, 122.961, 113.8575]
CIFAR10_STD = [63.0105, 62.0925, 66.708]
CIFAR10_EVAL_STD = [51.5865, 50.847, 51.255]  # its test transform's std (0.2023, ...): eval_norm='reference' only
CIFAR100_MEAN = [129.3105, 124.1085, 112.404]
CIFAR100_STD = [68.2125, 65.4075, 70.4055]


def _is_views(inputs: Any) -> bool:
    """A multi-view batch: a list of views, each a (B, C, H, W) tensor or a list of (C, H, W) tensors."""
    return isinstance(inputs, (list, tuple)) and len(inputs) > 0 and (
        isinstance(inputs[0], (list, tuple)) or (isinstance(inputs[0], Tensor) and inputs[0].ndim == 4))


@MODELS.register_module()
class MultiViewDataPreprocessor(FeatureClsDataPreprocessor):
    """``FeatureClsDataPreprocessor`` that also takes MMPretrain ``MultiView`` batches: ``inputs`` a list of views
    (each a (B, C, H, W) tensor, or a list of (C, H, W) tensors), each normalised like a single-view batch and
    returned as a list of (B, C, H, W) tensors; single-view images and cached features as the parent."""

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        if not _is_views(inputs):
            return super().forward(data, training)
        views, samples = [], data.get('data_samples')
        for view in inputs:
            view = torch.stack(list(view)) if isinstance(view, (list, tuple)) else view
            out = super().forward(dict(inputs=view, data_samples=samples), training)
            views.append(out['inputs'])
            samples = out['data_samples']
        return dict(inputs=views, data_samples=samples)


def _surrogate_scale(loss: Tensor, factor: float) -> Tensor:
    """``loss`` with its value unchanged and its gradient multiplied by ``factor``."""
    if factor == 1:
        return loss
    return loss.detach() + factor * (loss - loss.detach())


@MODELS.register_module()
class NPOSCIFARClassifier(CLIPOODClassifier):
    """NPOS from scratch (module docstring): CIFAR ResNet + projection head + outlier MLP, CIDER + outlier loss,
    KNN score. Image-only (no text tower).

    ``loss`` takes a multi-view batch (a list of view tensors, :class:`MultiViewDataPreprocessor`) or a single
    (B, C, H, W) batch, with data samples carrying ``gt_label`` or a (B,) label tensor.

    Args:
        backbone: :class:`~mmood.models.backbones.CIFARResNetBackbone` (depth 18 for CIFAR-10, 34 for CIFAR-100
            in the authors' scripts).
        class_names: ID class names (a file or a list).
        head: the primary score's head (``KNNHead(k=300)`` on the unit feature ``global``).
        extra_heads: more heads (``NPOSHead``: the outlier MLP's logit ``outlier``).
        proj_dim: width of the projection ``z`` (``feat_dim`` = 128).
        proj_hidden: hidden width of the projection head (default: the feature width, 512).
        mlp_hidden: hidden width of the outlier MLP (128 = ``feat_dim`` in the reference).
        cider: config of :class:`~mmood.models.losses.CIDERLoss` (``num_classes`` and ``feat_dim`` filled in).
        synthesis: config of :class:`~mmood.models.losses.NPOSOutlierSynthesis` (``num_classes``, ``feat_dim``
            filled in).
        loss_reg: the outlier loss (:class:`~mmood.models.losses.OutlierRegLoss`, weight λ = 0.1).
        start_iter: first iteration that synthesises outliers (``start_epoch_KNN`` × iterations per epoch, computed
            in the configs: 200 × 195); before it ``L_reg`` is 0.
        cache_dir, class_name_check, init_cfg: as :class:`CLIPOODClassifier`.
        data_preprocessor: default: :class:`MultiViewDataPreprocessor` with CIFAR-10's train mean/std, BGR -> RGB.
    """

    #: the ID classifier is the nearest CIDER prototype, not text
    classifies_with_text = False

    def __init__(self,
                 backbone: dict,
                 class_names: Union[str, Sequence[str]],
                 head: dict = dict(type='KNNHead', k=300, feature='global'),
                 extra_heads: Sequence[dict] = (dict(type='NPOSHead'), ),
                 proj_dim: int = 128,
                 proj_hidden: Optional[int] = None,
                 mlp_hidden: int = 128,
                 cider: dict = dict(type='CIDERLoss'),
                 synthesis: dict = dict(type='NPOSOutlierSynthesis', queue_size=1000, k=300, select=200, picks=2,
                                        num_draws=600, sigma=0.1, keep=200),
                 loss_reg: dict = dict(type='OutlierRegLoss', loss_weight=0.1),
                 start_iter: int = 0,
                 cache_dir: Optional[str] = None,
                 class_name_check: str = 'names',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if data_preprocessor is None:
            data_preprocessor = dict(type='MultiViewDataPreprocessor', mean=CIFAR10_MEAN, std=CIFAR10_STD,
                                     to_rgb=True)
        super().__init__(backbone=backbone, class_names=class_names, head=head, extra_heads=extra_heads,
                         templates='mcm', logit_scale=1.0, cache_dir=cache_dir, class_name_check=class_name_check,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if self.backbone.has_text:
            raise ConfigError('NPOSCIFARClassifier trains an image-only network from scratch: use '
                              'CIFARResNetBackbone (or another image-only backbone)')
        width = int(self.backbone.embed_dim)
        hidden = int(proj_hidden or width)
        self.proj_head = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(inplace=True),
                                       nn.Linear(hidden, int(proj_dim)))
        self.outlier_mlp = nn.Sequential(nn.Linear(width, int(mlp_hidden)), nn.ReLU(inplace=True),
                                         nn.Linear(int(mlp_hidden), 1))
        self.cider = MODELS.build(dict(cider, num_classes=self.num_classes, feat_dim=int(proj_dim)))
        self.synthesis = MODELS.build(dict(synthesis, num_classes=self.num_classes, feat_dim=width))
        self.loss_reg = MODELS.build(loss_reg)
        if int(start_iter) < 0:
            raise ConfigError(f'start_iter must be >= 0, got {start_iter}')
        self.start_iter = int(start_iter)
        self.register_buffer('iteration', torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------ declarations
    @property
    def feature_kinds(self) -> tuple:
        """``global`` (unit h), ``embed`` (raw h: the prototype classifier and φ read it), then the heads' kinds."""
        return tuple(dict.fromkeys(('global', 'embed') + tuple(k for h in self.heads for k in h.feature_kinds)))

    @property
    def checkpoint_required_prefixes(self) -> tuple:
        """What a checkpoint must hold: the trained network (the synthesis state and the prototypes are optional: a
        converted reference checkpoint has neither)."""
        return ('backbone.', 'proj_head.', 'outlier_mlp.')

    def lent_to_heads(self) -> dict:
        """``outlier_mlp``: φ (:class:`~mmood.models.heads.NPOSHead` scores with it)."""
        return dict(super().lent_to_heads(), outlier_mlp=self.outlier_mlp)

    # ------------------------------------------------------------------ features
    def project(self, h: Tensor) -> Tensor:
        """``z = g(h)/‖g(h)‖``: the unit projection CIDER's losses and prototypes live in."""
        return F.normalize(self.proj_head(h), dim=-1)

    def extract_feat(self, inputs: Any) -> Dict[str, Tensor]:
        """Features of images (the kinds of :attr:`feature_kinds`: ``global`` = ĥ, ``embed`` / ``pre_proj`` = h);
        cached features pass through."""
        if is_feature_batch(inputs):
            return dict(inputs) if isinstance(inputs, dict) else {'global': inputs}
        return self.backbone.extract_image_features(inputs, self.feature_kinds)

    def class_logits(self, feats: Dict[str, Tensor]) -> Tensor:
        """``z·μᵀ/τ`` with ``z`` the projection of ``embed``: the nearest-prototype classifier (CIDER's prototypes)."""
        z = self.project(feats['embed'].float())
        return z @ self.cider.prototypes.to(z.device).T / self.cider.temperature

    # ------------------------------------------------------------------ prototypes
    @property
    def needs_id_train_init(self) -> bool:
        """The CIDER prototypes are set from the ID-train set before training (once; they are checkpointed)."""
        return not bool(self.cider.initialised)

    def init_from_id_train(self, batches: Iterable[dict]) -> None:
        self.init_prototypes(batches)

    @torch.no_grad()
    def init_prototypes(self, batches: Iterable[dict]) -> None:
        """CIDER's prototype initialisation: the normalised class means of ``z`` of the (randomly initialised)
        network in eval mode, over ``batches`` of the ID **training** set with the test transform (the reference
        uses its test loader). Sums are all-reduced, so sharded and unsharded loaders give the same prototypes."""
        was_training = self.training
        self.eval()
        device = self.cider.prototypes.device
        sums = torch.zeros_like(self.cider.prototypes, dtype=torch.float64)
        counts = torch.zeros(self.num_classes, dtype=torch.float64, device=device)
        for data in batches:
            data = self.data_preprocessor(data, False)
            z = self.project(self.backbone.pooled(data['inputs'])).double()
            labels = batch_labels(data['data_samples'], device)
            sums.index_add_(0, labels, z)
            counts += torch.bincount(labels, minlength=self.num_classes).double()
        if get_world_size() > 1:
            all_reduce(sums)
            all_reduce(counts)
        self.cider.initialise(sums, counts)
        self.train(was_training)
        print_log(f'NPOS (CIFAR): CIDER prototypes initialised from {int(counts.sum())} ID-train images',
                  logger='current', level=logging.INFO)

    # ------------------------------------------------------------------ training
    def loss(self, inputs: Any, data_samples: Union[Tensor, List[DataSample]]) -> Dict[str, Tensor]:
        """``0.5·L_dis + 1.0·L_comp + λ·L_reg`` (module docstring). Under DDP the EMA runs over the gathered views
        of every process (the prototypes stay identical on all ranks) and the gradients are scaled so that the
        processes' average is the gradient of the one global batch."""
        if is_feature_batch(inputs):
            raise ConfigError('NPOSCIFARClassifier trains on images (two augmented views per image), not cached '
                              'features')
        views = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        x = torch.cat(views)
        labels = batch_labels(data_samples, x.device).repeat(len(views))
        if not bool(self.cider.initialised):
            raise RuntimeError('NPOSCIFARClassifier: the CIDER prototypes are not initialised; the config needs '
                               "custom_hooks=[..., dict(type='IDTrainInitHook')] and an id_train_dataloader")
        h = self.backbone.pooled(x)
        z = self.project(h)
        world = get_world_size()
        (all_z, all_labels), _ = gather_features(z, labels)
        losses = self.cider(all_z, all_labels)
        losses = {k: _surrogate_scale(v, world) for k, v in losses.items()}
        losses['loss_reg'], num_outliers = synthesized_outlier_loss(self, h, labels, world)
        with torch.no_grad():
            acc = ((z.detach() @ self.cider.prototypes.T).argmax(dim=1) == labels).float().mean()
        return dict(losses, proto_acc=acc, outliers=torch.tensor(float(num_outliers), device=h.device),
                    full_classes=self.synthesis.ready().sum().float())

    def report_notes(self) -> List[str]:
        return super().report_notes() + [synthesis_note(self, 'NPOS (CIFAR, from scratch)')]
