"""timm image models as an image-only mmood backbone: the non-CLIP baselines of PLP.

PLP (Adaloglou et al., "Adapting Contrastive Language-Image Pretrained (CLIP) Models for Out-of-Distribution
Detection", TMLR 2024, arXiv:2303.05828) compares its CLIP probes with supervised ImageNet-21k models (linear probes
of ViT / ConvNeXt), self-supervised ones (MAE, MSN, iBOT, BEiT; linear probes on true labels) and fine-tuned
ImageNet-1k models scored by their own head. :class:`TimmBackbone` serves them all through the same interface as
the open_clip wrapper (:class:`~mmood.models.backbones.BaseOODBackbone`), so the linear probe
(``LinearProbeClassifier(train_labels='true')``), KNN, Mahalanobis and the post-hoc detectors on the probe view run
on their features unchanged. It has no text tower (``has_text = False``): methods that read text (MCM, NegLabel,
PLP's pseudo-labels, zero-shot views) refuse it with a one-line error naming the parts that need text.

Features (timm's own API, https://huggingface.co/docs/timm/feature_extraction): ``pre_proj`` =
``model.forward_head(model.forward_features(x), pre_logits=True)`` -- the pooled pre-logits feature (the class
token after the final norm for ViTs, average pooling and the head's norm for ConvNeXt); ``embed`` the same;
``global`` its unit norm; with ``keep_head=True`` also ``logits``, the model's own classifier applied to it.

Weights: a ``model_name`` with its pretrained tag (``arch.tag``) reads that tag's file from the Hugging Face cache
(downloaded only when the hub is reachable; never with ``HF_HUB_OFFLINE=1``); ``checkpoint`` loads a local file
instead (self-supervised releases: the weights under ``checkpoint_key``, a leading ``module.`` stripped, missing
and unexpected keys logged); ``pretrained=False`` without a checkpoint is random initialisation (tests).

Preprocessing presets (:func:`timm_preprocessing`): ``'timm'`` the model's own timm data config, ``'plp'`` PLP's
bicubic 224 x 224 squash (its ``default_prepro``), ``'plp_baseline'`` the 256 x 256 squash + centre crop 224 of
PLP's baseline scripts; each as an mmpretrain test pipeline and a data preprocessor dict.
"""
import contextlib
import difflib
import logging
import math
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmpretrain.registry import MODELS

from ...cache import file_identity
from ...utils.errors import ConfigError
from .base import PRECISIONS, BaseOODBackbone, MissingWeightsError, resolve_precision

__all__ = ['TimmBackbone', 'timm_preprocessing', 'resolve_timm_name', 'find_hub_weights', 'read_checkpoint_state',
           'PRESETS', 'IMAGENET_MEAN', 'IMAGENET_STD']

FEATURE_KINDS = ('global', 'pre_proj', 'embed')
#: torchvision's / timm's ImageNet normalisation (PLP's ``transforms.Normalize`` of every non-CLIP model)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRESETS = ('timm', 'plp', 'plp_baseline')
META_KEYS = ('sample_idx', 'img_path', 'set_id', 'is_ood')
#: files a timm hub repository holds its weights in, in timm's order of preference
HUB_FILES = ('model.safetensors', 'pytorch_model.bin')
CHECKPOINT_OPTION = 'model.backbone.checkpoint'


# ---------------------------------------------------------------------------------------------- names and weights
def _renamed(model_name: str) -> Optional[str]:
    """timm 1.0's name of a deprecated timm name (``vit_base_patch16_224_in21k`` -> ``...augreg_in21k``)."""
    from timm.models import _registry
    return getattr(_registry, '_deprecated_models', {}).get(model_name)


def resolve_timm_name(model_name: str, need_tag: bool = True) -> str:
    """The full ``arch.tag`` timm name of ``model_name``, checked against timm's registry.

    Args:
        model_name: ``arch.tag`` (``vit_base_patch16_224.augreg_in21k``) or, for random weights or a checkpoint
            file, a bare architecture name.
        need_tag: the tag's weights will be read: a bare name is accepted only when its architecture has exactly
            one pretrained tag (timm's default tag changes between timm versions, so it is never guessed).

    Raises:
        ConfigError: an unknown architecture or tag, an old timm name, or a bare name with several tags (the
            message names them).
    """
    import timm
    from timm.models import split_model_name_tag
    renamed = _renamed(model_name)
    if renamed:
        raise ConfigError(f'"{model_name}" is an old timm name (timm <= 0.8); timm {timm.__version__} calls these '
                          f'weights "{renamed}": set model.backbone.model_name="{renamed}".')
    arch, tag = split_model_name_tag(model_name)
    if not timm.is_model(arch):
        close = difflib.get_close_matches(arch, timm.list_models(), n=5)
        raise ConfigError(f'Unknown timm architecture "{arch}" (model.backbone.model_name="{model_name}"). Closest '
                          f'timm names: {close}.')
    tags = timm.list_pretrained(f'{arch}.*')
    if tag:
        if model_name not in tags:
            raise ConfigError(f'timm has no pretrained tag "{tag}" for {arch} (model.backbone.model_name='
                              f'"{model_name}"); its tags: {tags or "none"}.')
        return model_name
    if not need_tag:
        return model_name
    if len(tags) == 1:
        return tags[0]
    if not tags:
        raise ConfigError(f'timm has no pretrained weights for {arch}: give a weights file '
                          f'({CHECKPOINT_OPTION}=/path) or model.backbone.pretrained=False for random weights.')
    raise ConfigError(f'model.backbone.model_name="{model_name}" names an architecture with {len(tags)} pretrained '
                      f'tags, and timm\'s default tag changes between timm versions: name one in full, e.g. '
                      f'model_name="{tags[0]}". Tags: {tags}.')


def _hub_location(model_name: str) -> Tuple[str, Optional[str], Sequence[str], str]:
    """``(repo, revision, files, url)`` of the Hugging Face hub repository holding a timm tag's weights."""
    from timm.models import get_pretrained_cfg
    cfg = get_pretrained_cfg(model_name)
    hub_id = getattr(cfg, 'hf_hub_id', None) if cfg is not None else None
    if not hub_id:
        url = getattr(cfg, 'url', None) or 'the original release'
        raise MissingWeightsError(f'timm {model_name} has no Hugging Face hub repository (weights at {url}): '
                                  f'download the file and set {CHECKPOINT_OPTION}=/path/to/it.')
    repo, _, revision = hub_id.partition('@')
    files = (cfg.hf_hub_filename, ) if getattr(cfg, 'hf_hub_filename', None) else HUB_FILES
    return repo, revision or None, files, f'https://huggingface.co/{repo}'


def find_hub_weights(model_name: str, download: bool = False) -> str:
    """The local file of a timm tag's weights: the Hugging Face cache, else (``download=True`` and the hub
    reachable, i.e. not ``HF_HUB_OFFLINE=1``) a download into it.

    Raises:
        MissingWeightsError: not cached (and not downloadable); the message names the repository, the file and
            the option that takes a local file instead.
    """
    from huggingface_hub import try_to_load_from_cache
    repo, revision, files, url = _hub_location(model_name)
    for name in files:
        found = try_to_load_from_cache(repo, name, revision=revision)
        if isinstance(found, str) and osp.isfile(found):
            return found
    from huggingface_hub import constants
    offline = bool(getattr(constants, 'HF_HUB_OFFLINE', False))
    problem = 'not in the Hugging Face cache' + (' (HF_HUB_OFFLINE=1)' if offline else '')
    if download and not offline:
        from huggingface_hub import hf_hub_download
        for name in files:
            try:
                return hf_hub_download(repo, name, revision=revision)
            except Exception as err:  # offline, missing file, no network: many error types
                problem = f'not in the Hugging Face cache and not downloadable ({type(err).__name__})'
    raise MissingWeightsError(
        f'Weights of timm {model_name} are {problem}. Download {url} (file {files[0]}) with network access, e.g. '
        f'huggingface-cli download {repo} {files[0]}, or put the file anywhere and set '
        f'{CHECKPOINT_OPTION}=/path/to/{files[0]}.')


def read_checkpoint_state(path: str, key: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """The weights in a checkpoint file, under ``key`` (MSN: ``target_encoder``, iBOT: ``state_dict``, MAE /
    BEiT: ``model``; None: the file is the state dict itself), with a leading ``module.`` (DDP) stripped.

    Raises:
        MissingWeightsError: no such file.
        ConfigError: ``key`` is not in the file, or the file holds several entries and no ``key`` is given.
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise MissingWeightsError(f'Checkpoint file {path} ({CHECKPOINT_OPTION}) does not exist: put the weights file '
                                  f'there (docs/backbones.md says where each release is) or set '
                                  f'{CHECKPOINT_OPTION}=/path/to/it.')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        obj = load_file(path)
    else:
        from ...utils import load_checkpoint_file
        obj = load_checkpoint_file(path)
    if not isinstance(obj, dict):
        raise ConfigError(f'{path} holds a {type(obj).__name__}, not a dict of weights')
    if key is not None:
        if key not in obj:
            raise ConfigError(f'{path} has no entry "{key}" (model.backbone.checkpoint_key); its entries: '
                              f'{sorted(map(str, obj))[:12]}.')
        obj = obj[key]
    elif not all(isinstance(v, torch.Tensor) for v in obj.values()):
        nested = [k for k, v in obj.items() if isinstance(v, dict)]
        raise ConfigError(f'{path} holds {sorted(map(str, obj))[:12]}, not one state dict: set '
                          f'model.backbone.checkpoint_key to the entry with the weights ({nested}; MSN: '
                          f'target_encoder, iBOT: state_dict, MAE / BEiT: model).')
    return {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in obj.items()
            if isinstance(v, torch.Tensor)}


# ---------------------------------------------------------------------------------------------- preprocessing
def _timm_data_config(model_name: str) -> dict:
    """timm's eval data config of a model name (``timm.data.resolve_data_config``, from its pretrained config)."""
    from timm.data import resolve_data_config
    from timm.models import get_pretrained_cfg
    cfg = get_pretrained_cfg(model_name)
    if cfg is None:
        raise ConfigError(f'timm has no data config for "{model_name}": name a tag (arch.tag) or use preset '
                          f'"plp" / "plp_baseline".')
    return resolve_data_config({}, pretrained_cfg=cfg.to_dict())


def timm_preprocessing(preset: str = 'timm', model_name: Optional[str] = None, image_size: Optional[int] = None,
                       preprocessor: str = 'FeatureClsDataPreprocessor') -> Tuple[List[dict], dict]:
    """The mmpretrain test pipeline and data preprocessor of a preprocessing preset.

    Presets:

    * ``'timm'``: the model's own timm eval transform (``timm.data.resolve_data_config``; needs ``model_name``):
      short-side resize to ``floor(size / crop_pct)`` with its interpolation, centre crop ``size``, its mean/std;
    * ``'plp'``: PLP's ``default_prepro(224)`` of its embedding script: ``Resize((224, 224))`` bicubic (a squash,
      no crop), ImageNet mean/std;
    * ``'plp_baseline'``: PLP's baseline scripts (ImageNet-21k probes, fine-tuned models): ``Resize((256, 256))``
      bilinear (a squash), ``CenterCrop(224)``, ImageNet mean/std.

    Images are decoded with Pillow (``LoadOODImage``) and resized with Pillow, as torchvision does on PIL images.

    Args:
        preset: one of :data:`PRESETS`.
        model_name: the timm name (``'timm'`` preset).
        image_size: the crop size (default: the model's input size, 224 for the PLP presets).
        preprocessor: the data preprocessor type (``FeatureClsDataPreprocessor``: cached feature batches pass
            through it, as the linear probe needs).

    Returns:
        ``(pipeline, data_preprocessor)``: a list of transform dicts (load, resize, crop, pack) and a dict with the
        mean / std on the 0-255 scale and ``to_rgb=True`` (the images are decoded as BGR).
    """
    if preset not in PRESETS:
        raise ConfigError(f'Unknown preprocessing preset {preset!r}; presets: {PRESETS}')
    if preset == 'timm':
        if not model_name:
            raise ConfigError('The "timm" preprocessing preset needs the timm model_name')
        cfg = _timm_data_config(model_name)
        size = int(image_size or cfg['input_size'][-1])
        scale = int(math.floor(size / cfg['crop_pct']))
        interpolation = cfg['interpolation']
        mode = cfg.get('crop_mode', 'center')
        if mode == 'center':
            resize = dict(type='ResizeEdge', scale=scale, edge='short', backend='pillow', interpolation=interpolation)
        elif mode == 'squash':
            resize = dict(type='Resize', scale=(scale, scale), backend='pillow', interpolation=interpolation)
        else:
            raise ConfigError(f'timm crop_mode {mode!r} of {model_name} has no mmpretrain equivalent here; use '
                              f'preset "plp" or "plp_baseline"')
        steps = [resize, dict(type='CenterCrop', crop_size=size)]
        mean, std = cfg['mean'], cfg['std']
    elif preset == 'plp':
        size = int(image_size or 224)
        steps = [dict(type='Resize', scale=(size, size), backend='pillow', interpolation='bicubic')]
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    else:
        size = int(image_size or 224)
        scale = int(256 * size / 224)
        steps = [dict(type='Resize', scale=(scale, scale), backend='pillow', interpolation='bilinear'),
                 dict(type='CenterCrop', crop_size=size)]
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    pipeline = [dict(type='LoadOODImage', imdecode_backend='pillow'), *steps,
                dict(type='PackInputs', meta_keys=META_KEYS)]
    data_preprocessor = dict(type=preprocessor, mean=[round(m * 255, 6) for m in mean],
                             std=[round(s * 255, 6) for s in std], to_rgb=True)
    return pipeline, data_preprocessor


# ---------------------------------------------------------------------------------------------- the backbone
@MODELS.register_module()
class TimmBackbone(BaseOODBackbone):
    """A (frozen by default) timm image model with mmood's feature kinds; no text tower.

    Args:
        model_name: the full timm name with its pretrained tag, e.g. ``'vit_base_patch16_224.augreg_in21k'``. A
            bare architecture name is accepted for random weights or a ``checkpoint`` file, or when the
            architecture has a single tag; with several tags it is refused (timm's default tag changes between
            versions).
        pretrained: read the tag's weights from the Hugging Face cache (downloaded when the hub is reachable);
            False: random initialisation (tests). Ignored when ``checkpoint`` is given.
        checkpoint: a local weights file loaded instead of the hub's: a timm state dict (``model.safetensors``,
            ``pytorch_model.bin``) or a self-supervised release, whose weights sit under ``checkpoint_key``. A
            leading ``module.`` is stripped, timm's own checkpoint filter of the architecture is applied (position
            embedding resizing), and the keys the model lacks or the file has in excess are logged.
        checkpoint_key: the entry of ``checkpoint`` holding the weights (MSN: ``target_encoder``, iBOT:
            ``state_dict``, MAE / BEiT: ``model``); None when the file is the state dict itself.
        model_cfg: keyword arguments of ``timm.create_model`` (e.g. a tiny ``img_size=32, patch_size=8,
            embed_dim=32, depth=2, num_heads=2`` for tests; ``global_pool``...).
        keep_head: keep the model's classification head (a fine-tuned model): the ``logits`` feature kind, and
            :meth:`classifier_head` lends its weight and bias (``PretrainedHeadClassifier``). False builds the
            model without a head (``num_classes=0``).
        frozen: freeze every weight and keep the model in eval mode.
        precision: ``'fp32'`` (default), ``'fp16'`` (GPU only; falls back to fp32 with a warning) or ``'bf16'``.
        init_cfg: mmengine init config (unused: the weights come from timm, the hub or ``checkpoint``).
    """

    has_text = False

    def __init__(self,
                 model_name: str,
                 pretrained: bool = True,
                 checkpoint: Optional[str] = None,
                 checkpoint_key: Optional[str] = None,
                 model_cfg: Optional[dict] = None,
                 keep_head: bool = False,
                 frozen: bool = True,
                 precision: str = 'fp32',
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        import timm
        precision = resolve_precision(precision)
        if checkpoint_key is not None and not checkpoint:
            raise ConfigError('model.backbone.checkpoint_key names an entry of model.backbone.checkpoint, which is '
                              'not set.')
        source = 'checkpoint' if checkpoint else ('hub' if pretrained else 'random')
        self.model_name = resolve_timm_name(model_name, need_tag=source == 'hub')
        self.model_cfg = dict(model_cfg or {})
        self.checkpoint_key = checkpoint_key
        self.keep_head = bool(keep_head)
        self.frozen = bool(frozen)
        self.precision = precision
        kwargs = dict(self.model_cfg)
        if not self.keep_head:
            kwargs['num_classes'] = 0
        self.load_report: Optional[dict] = None
        if source == 'hub':
            path = find_hub_weights(self.model_name, download=True)
            # timm's own loading (checkpoint filter, classifier adaptation, strict), from the file found here
            overlay = dict(file=path, custom_load=False, source='')
            self.model = timm.create_model(self.model_name, pretrained=True, pretrained_cfg_overlay=overlay,
                                           **kwargs)
            self.weights_id, self.pretrained = file_identity(path), self.model_name
            print_log(f'timm {self.model_name}: weights {path}.', logger='current')
        else:
            self.model = timm.create_model(self.model_name, pretrained=False, **kwargs)
            if source == 'checkpoint':
                path = osp.expanduser(str(checkpoint))
                self.load_report = self._load_checkpoint(path, checkpoint_key)
                self.weights_id, self.pretrained = file_identity(path), path
            else:
                self.weights_id, self.pretrained = 'random', None
                print_log(f'timm {self.model_name}: random weights (pretrained=False, no checkpoint).',
                          logger='current', level=logging.WARNING)
        self.feature_kinds = FEATURE_KINDS + (('logits', ) if self.keep_head else ())
        if self.keep_head:
            self._check_head()
        self.model.to(PRECISIONS[precision])
        if self.frozen:
            self.model.requires_grad_(False)
            self.model.eval()

    # ------------------------------------------------------------------ weights
    def _load_checkpoint(self, path: str, key: Optional[str]) -> dict:
        """Load a weights file non-strictly; returns (and logs) what was loaded, missing and unexpected."""
        import sys
        state = read_checkpoint_state(path, key)
        filter_fn = getattr(sys.modules.get(type(self.model).__module__), 'checkpoint_filter_fn', None)
        if filter_fn is not None:
            state = filter_fn(state, self.model)
        own = self.model.state_dict()
        where = f'{path}' + (f'["{key}"]' if key else '')
        try:
            result = self.model.load_state_dict(state, strict=False)
        except RuntimeError as err:  # shape mismatches
            raise ConfigError(f'{where} does not fit timm {self.model_name}'
                              f'{" with model_cfg=" + repr(self.model_cfg) if self.model_cfg else ""}: '
                              f'{str(err).splitlines()[-1].strip()}; set model.backbone.model_name / model_cfg '
                              f'(e.g. num_classes) to the architecture the file was trained as.') from err
        missing, unexpected = list(result.missing_keys), list(result.unexpected_keys)
        loaded = len(own) - len(missing)
        if not loaded:
            raise ConfigError(f'None of the {len(state)} tensors of {where} matches timm {self.model_name} (file keys '
                              f'like {list(state)[:3]}, model keys like {list(own)[:3]}): wrong '
                              f'model.backbone.checkpoint_key or architecture.')
        report = dict(file=where, loaded=loaded, total=len(own), missing=missing, unexpected=unexpected)
        print_log(f'timm {self.model_name}: {loaded} of {len(own)} tensors loaded from {where}; missing (left at '
                  f'their initialisation): {missing or "none"}; unexpected (ignored): {unexpected or "none"}.',
                  logger='current', level=logging.WARNING if missing else logging.INFO)
        return report

    def _check_head(self) -> None:
        head = self.model.get_classifier()
        if not isinstance(head, torch.nn.Linear):
            raise ConfigError(f'model.backbone.keep_head=True needs a linear classification head; timm '
                              f'{self.model_name} has {type(head).__name__} (num_classes='
                              f'{getattr(self.model, "num_classes", "?")}): a model without a fine-tuned head '
                              f'(e.g. a self-supervised one) is read with a trained probe instead.')

    @classmethod
    def weights_report(cls, cfg: dict) -> str:
        """Where the weights of a ``TimmBackbone`` config are, without building it or downloading anything."""
        name = cfg.get('model_name')
        checkpoint = cfg.get('checkpoint')
        if checkpoint:
            path = osp.expanduser(str(checkpoint))
            if not osp.isfile(path):
                raise MissingWeightsError(f'Checkpoint file {path} ({CHECKPOINT_OPTION}) of timm {name} does not '
                                          f'exist: put the weights file there (docs/backbones.md says where each '
                                          f'release is) or set {CHECKPOINT_OPTION}=/path/to/it.')
            key = cfg.get('checkpoint_key')
            return f'timm {name}: {path}' + (f' (entry "{key}")' if key else '')
        if not cfg.get('pretrained', True):
            return f'timm {resolve_timm_name(name, need_tag=False)}: random initialisation'
        name = resolve_timm_name(name, need_tag=True)
        return f'timm {name}: {find_hub_weights(name)}'

    def init_weights(self) -> None:
        """Nothing to initialise: the weights come from timm, the hub file or the checkpoint (mmengine's default
        would call timm's own ``init_weights`` and re-initialise the model)."""
        self._is_init = True

    # ------------------------------------------------------------------ identity and widths
    @property
    def identity(self) -> dict:
        """What determines the features: part of every cache key."""
        import timm
        ident = dict(backbone='TimmBackbone', model_name=self.model_name, weights=self.weights_id,
                     checkpoint_key=self.checkpoint_key, timm=timm.__version__, precision=self.precision,
                     keep_head=self.keep_head)
        if self.model_cfg:
            ident['model_cfg'] = self.model_cfg
        return ident

    @property
    def embed_dim(self) -> int:
        """Width of the pre-logits feature (``head_hidden_size``, else ``num_features``)."""
        return int(getattr(self.model, 'head_hidden_size', None) or self.model.num_features)

    @property
    def num_classes(self) -> int:
        """Classes of the kept head (0 without one)."""
        head = self.model.get_classifier()
        return int(head.out_features) if isinstance(head, torch.nn.Linear) else 0

    def feature_dim(self, kind: str) -> int:
        if kind == 'logits' and self.keep_head:
            return self.num_classes
        return super().feature_dim(kind)

    def classifier_head(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """The kept classification head's weight (C, D) and bias (C,), detached float32 copies (``keep_head``)."""
        if not self.keep_head:
            raise ConfigError(f'The classification head of timm {self.model_name} was not kept: set '
                              f'model.backbone.keep_head=True.')
        head = self.model.get_classifier()
        bias = head.bias if head.bias is not None else torch.zeros(head.out_features)
        return head.weight.detach().float().clone(), bias.detach().float().clone()

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def train(self, mode: bool = True):
        """A frozen model stays in eval mode (dropout, stochastic depth off)."""
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    # ------------------------------------------------------------------ image side
    def extract_image_features(self, images: torch.Tensor,
                               kinds: Iterable[str] = ('global', )) -> Dict[str, torch.Tensor]:
        """Image features in float32: ``pre_proj`` / ``embed`` (B, D) the pre-logits feature, ``global`` its unit
        norm, ``logits`` (B, C) the kept head's (``keep_head=True``).

        Args:
            images: normalised images (B, 3, H, W).
            kinds: subset of :attr:`feature_kinds`.
        """
        kinds = self.check_kinds(kinds)
        x = images.to(device=next(self.model.parameters()).device, dtype=self.dtype)
        with torch.no_grad() if self.frozen else contextlib.nullcontext():
            pooled = self.model.forward_head(self.model.forward_features(x), pre_logits=True)
            logits = self.model.get_classifier()(pooled).float() if 'logits' in kinds else None
        pre = pooled.float()
        out = {}
        for kind in kinds:
            out[kind] = F.normalize(pre, dim=-1) if kind == 'global' else logits if kind == 'logits' else pre
        return out

    # ------------------------------------------------------------------ no text side
    @property
    def logit_scale(self) -> torch.Tensor:
        self.require_text('A CLIP logit scale')

    def tokenize(self, texts: Sequence[str]) -> torch.Tensor:
        self.require_text('Tokenizing text')

    def _encode_batch(self, texts: Sequence[str]) -> torch.Tensor:
        self.require_text('Encoding text')
