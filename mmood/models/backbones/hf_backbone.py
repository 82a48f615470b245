"""Hugging Face transformers dual encoders as mmood backbones: ALIGN, AltCLIP, GroupViT, CLIP and any CLIP-like model.

Any transformers model with ``get_image_features`` and ``get_text_features`` -- one image tower and one text tower
mapping into a joint space -- runs every zero-shot method (MCM, NegLabel and its family) and the post-hoc detectors
unchanged through :class:`HFVLMBackbone`:

=============  ===============================  =============  =================================================
model_type     hub repository (model_id)        joint width    image tower, pooled feature (``pre_proj``)
=============  ===============================  =============  =================================================
``align``      ``kakaobrain/align-base``        640            EfficientNet-B7, average pool; no projection
``altclip``    ``BAAI/AltCLIP``                 768            CLIP ViT-L/14, CLS after LayerNorm; linear proj
``groupvit``   ``nvidia/groupvit-gcc-yfcc``     256            GroupViT, mean of the groups; MLP projection
``clip``       ``openai/clip-vit-base-patch16`` 512            ViT-B/16, CLS after LayerNorm; linear proj
=============  ===============================  =============  =================================================

Papers: ALIGN (C. Jia et al., "Scaling Up Visual and Vision-Language Representation Learning With Noisy Text
Supervision", ICML 2021); AltCLIP (Z. Chen et al., "AltCLIP: Altering the Language Encoder in CLIP for Extended
Language Capabilities", ACL Findings 2023); GroupViT (J. Xu et al., "GroupViT: Semantic Segmentation Emerges from
Text Supervision", CVPR 2022); CLIP (A. Radford et al., ICML 2021). The model classes are transformers' ``AlignModel``,
``AltCLIPModel``, ``GroupViTModel`` and ``CLIPModel`` (https://huggingface.co/docs/transformers/model_doc/align and
the neighbouring pages).

Feature kinds (:class:`~mmood.models.backbones.BaseOODBackbone`): ``embed`` is the model's own image embedding (what
``get_image_features`` returns: ``pooler_output`` of its output in transformers 5, the tensor itself in 4.x),
``global`` its unit-norm version. ``pre_proj`` is the pooled feature before the projection where the projection is
one bias-free linear map (CLIP, AltCLIP: the vision tower's ``pooler_output``, and :attr:`projection` is
``visual_projection.weight.T``, so ``pre_proj @ projection == embed``); ALIGN has no projection (its pooled
EfficientNet feature is the embedding) and GroupViT's is a two-layer MLP with batch norm, which no matrix stands for:
for both ``pre_proj`` equals ``embed`` and :attr:`projection` is None (``pre_proj_kind == 'post_proj'``).

Preprocessing lives in the config (test pipeline and ``data_preprocessor``), per model and preset, in
``configs/_base_/hf_preprocessing.py``; docs/backbones.md compares each model's own processor with CSP's choice.

Nothing is downloaded when ``HF_HUB_OFFLINE=1``: missing files raise :class:`MissingWeightsError`, naming the hub
repository, the files and ``model.backbone.model_id``. transformers is imported only when a backbone is built, so
``import mmood`` works without it (``pip install -e .[hf]`` installs it).
"""
import hashlib
import json
import logging
import os
import os.path as osp
import re
from typing import Dict, Iterable, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmpretrain.registry import MODELS

from ...cache import file_identity
from ...utils.errors import ConfigError
from .base import BaseOODBackbone, MissingWeightsError, resolve_precision

__all__ = ['HFVLMBackbone', 'KNOWN_HF_MODELS', 'locate_hf_folder', 'hf_offline']

OPTION = 'model.backbone.model_id'
INSTALL = 'pip install -e .[hf]'
#: model_type -> the hub repository mmood's configs use, and its joint-space width (``projection_dim``)
KNOWN_HF_MODELS = {
    'align': dict(repo='kakaobrain/align-base', model='AlignModel', embed_dim=640),
    'altclip': dict(repo='BAAI/AltCLIP', model='AltCLIPModel', embed_dim=768),
    'groupvit': dict(repo='nvidia/groupvit-gcc-yfcc', model='GroupViTModel', embed_dim=256),
    'clip': dict(repo='openai/clip-vit-base-patch16', model='CLIPModel', embed_dim=512),
}
#: weight files transformers reads, in its order of preference (single file, then sharded index)
WEIGHT_FILES = ('model.safetensors', 'model.safetensors.index.json', 'pytorch_model.bin',
                'pytorch_model.bin.index.json')
#: files a tokenizer folder may hold (any of the vocabulary files, plus the configs)
TOKENIZER_FILES = ('tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt', 'vocab.json',
                   'merges.txt', 'sentencepiece.bpe.model', 'spiece.model', 'added_tokens.json')
VOCAB_FILES = ('tokenizer.json', 'vocab.txt', 'vocab.json', 'sentencepiece.bpe.model', 'spiece.model')
FILES_TO_FETCH = ('config.json, model.safetensors or pytorch_model.bin, the tokenizer files (tokenizer.json, '
                  'tokenizer_config.json, special_tokens_map.json and whichever of vocab.txt, vocab.json + merges.txt '
                  'or sentencepiece.bpe.model the repository has) and preprocessor_config.json')
#: text towers whose position ids start after the padding index (RoBERTa's rule): max_position_embeddings - pad - 1
ROBERTA_POSITIONS = ('altclip_text_model', 'roberta', 'xlm-roberta')
_HUB_ID = re.compile(r'^[A-Za-z0-9][\w.-]*/[\w.-]+$')


def import_transformers():
    """``transformers``, or a :class:`ConfigError` naming the install command."""
    try:
        import transformers
    except ImportError as err:
        raise ConfigError(f'HFVLMBackbone needs the transformers package, which is not installed: {INSTALL} (or pip '
                          f'install "transformers>=4.45,<6").') from err
    return transformers


def hf_offline() -> bool:
    """Whether the Hugging Face hub is switched off (``HF_HUB_OFFLINE``): then nothing is downloaded."""
    value = os.environ.get('HF_HUB_OFFLINE', '')
    if value.upper() in ('1', 'ON', 'YES', 'TRUE'):
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(getattr(constants, 'HF_HUB_OFFLINE', False))


def _is_hub_id(name: str) -> bool:
    return bool(_HUB_ID.match(name)) and not name.startswith(('.', '/', '~'))


def weight_files(folder: str) -> List[str]:
    """The weight files transformers would read from ``folder`` (a single file, or an index and its shards), empty
    when there are none."""
    for name in WEIGHT_FILES:
        path = osp.join(folder, name)
        if not osp.isfile(path):
            continue
        if not name.endswith('.index.json'):
            return [path]
        with open(path, encoding='utf-8') as f:
            shards = sorted(set(json.load(f).get('weight_map', {}).values()))
        return [path] + [osp.join(folder, s) for s in shards]
    return []


def _missing_message(model_id: str, what: str, why: str, option: str = OPTION) -> str:
    repo = model_id if _is_hub_id(model_id) else None
    where = (f'Download https://huggingface.co/{repo} ({FILES_TO_FETCH}) into a folder, e.g. `hf download {repo} '
             f'--local-dir checkpoints/{repo.split("/")[-1]}`, and set `{option}=checkpoints/{repo.split("/")[-1]}` '
             f'(--cfg-options {option}=/path/to/folder), or run once with network access so the Hugging Face cache '
             f'holds it.') if repo else (
        f'Put the model there ({FILES_TO_FETCH}: save_pretrained writes them), or set `{option}` to the folder that '
        f'holds them or to a hub repository id ({", ".join(m["repo"] for m in KNOWN_HF_MODELS.values())}).')
    return f'{what} of Hugging Face model {model_id} ({option}) {why}. {where}'


def locate_hf_folder(model_id: str, need_weights: bool = True, need_tokenizer: bool = True,
                     download: bool = False, option: str = OPTION) -> str:
    """The local folder holding ``model_id``'s files: the folder itself, or its snapshot in the Hugging Face cache.

    Args:
        model_id: a folder (``save_pretrained``'s output, a ``hf download --local-dir`` copy) or a hub repository id.
        need_weights: the folder must hold ``config.json`` and a weights file.
        need_tokenizer: the folder must hold a tokenizer vocabulary (``tokenizer.json``, ``vocab.txt``...).
        download: fetch a hub repository that is not cached (never when ``HF_HUB_OFFLINE`` is set).
        option: the config option named in errors.

    Raises:
        MissingWeightsError: the files are not on disk (and not downloadable); the message names the hub repository,
            the files and the option.
    """
    what = 'The weights' if need_weights else 'The tokenizer files'
    path = osp.expanduser(model_id)
    if osp.isdir(path):
        folder = path
    elif not _is_hub_id(model_id):
        raise MissingWeightsError(_missing_message(model_id, what, 'are not there: no such folder', option))
    else:
        folder = _cached_snapshot(model_id)
        missing = _missing_files(folder, need_weights, need_tokenizer) if folder else None
        if folder is None or missing:
            if download and not hf_offline():
                folder = _download(model_id, need_weights)
            else:
                why = (f'are incomplete in the Hugging Face cache ({folder} has no {missing})' if folder else
                       'are neither a local folder nor in the Hugging Face cache')
                why += ' (HF_HUB_OFFLINE=1: nothing is downloaded)' if hf_offline() else ''
                raise MissingWeightsError(_missing_message(model_id, what, why, option))
    missing = _missing_files(folder, need_weights, need_tokenizer)
    if missing:
        raise MissingWeightsError(_missing_message(model_id, what, f'are incomplete: {folder} has no {missing}',
                                                   option))
    return folder


def _missing_files(folder: str, need_weights: bool, need_tokenizer: bool) -> Optional[str]:
    """What ``folder`` lacks, in words, or None."""
    if need_weights and not osp.isfile(osp.join(folder, 'config.json')):
        return 'config.json'
    if need_weights and not weight_files(folder):
        return ' / '.join(WEIGHT_FILES)
    if need_tokenizer and not any(osp.isfile(osp.join(folder, f)) for f in VOCAB_FILES):
        return 'tokenizer vocabulary (' + ' / '.join(VOCAB_FILES) + ')'
    return None


def _cached_snapshot(repo: str) -> Optional[str]:
    """The cached snapshot folder of a hub repository (its ``main`` revision), without any network access."""
    try:
        from huggingface_hub import snapshot_download
        return snapshot_download(repo, local_files_only=True)
    except Exception:  # LocalEntryNotFoundError, an unknown repository, a broken cache: not cached
        return None


def _download(repo: str, need_weights: bool) -> str:
    """Fetch the files a model needs from the hub (safetensors first; the pickle ``.bin`` only if the repository has
    no safetensors), as ``from_pretrained`` would."""
    from huggingface_hub import snapshot_download
    patterns = ['*.json', '*.txt', '*.model']
    try:
        folder = snapshot_download(repo, allow_patterns=patterns + (['*.safetensors'] if need_weights else []))
        if need_weights and not weight_files(folder):
            folder = snapshot_download(repo, allow_patterns=patterns + ['pytorch_model*.bin'])
    except Exception as err:  # no network, unknown repository, gated...
        raise MissingWeightsError(_missing_message(repo, 'The weights', f'could not be downloaded '
                                                   f'({type(err).__name__}: {err})')) from err
    return folder


def _files_identity(paths: Iterable[str]) -> str:
    """One identity of several files (path, size and modification time of each, :func:`file_identity`)."""
    h = hashlib.sha256()
    for path in paths:
        h.update(file_identity(path).encode())
    return 'files:' + h.hexdigest()[:16]


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _parameters_digest(module: torch.nn.Module) -> str:
    """Digest of every parameter and buffer (random builds: the weights are what the seed made them)."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def _pooled(output) -> torch.Tensor:
    """The embedding tensor of ``get_image_features`` / ``get_text_features``: the tensor itself (transformers 4),
    or the ``pooler_output`` of the ModelOutput they return in transformers 5."""
    if isinstance(output, torch.Tensor):
        return output
    pooled = getattr(output, 'pooler_output', None)
    if pooled is None and isinstance(output, (tuple, list)):
        pooled = output[1] if len(output) > 1 else output[0]
    if not isinstance(pooled, torch.Tensor):
        raise TypeError(f'Cannot find the embedding in a {type(output).__name__} (no pooler_output)')
    return pooled


@MODELS.register_module()
class HFVLMBackbone(BaseOODBackbone):
    """A frozen (by default) Hugging Face transformers dual encoder (ALIGN, AltCLIP, GroupViT, CLIP, ...).

    See the module docstring for the models, feature kinds and preprocessing.

    Args:
        model_id: a hub repository id (``'kakaobrain/align-base'``; loaded from the Hugging Face cache, downloaded
            there when the hub is reachable and ``HF_HUB_OFFLINE`` is not set) or a local folder holding
            ``config.json``, the weights and the tokenizer files (``save_pretrained``'s output). With ``model_cfg``
            it only names the model and, without ``tokenizer``, is where the tokenizer is read from.
        model_cfg: build the model from this config dict with random weights instead of loading any (tests, tiny
            models): ``model_type`` (``'align'``, ``'altclip'``, ``'groupvit'``, ``'clip'``...) plus the keyword
            arguments of that model's config class (``text_config``, ``vision_config``, ``projection_dim``...).
        tokenizer: a folder or hub repository id of the tokenizer; default ``model_id``.
        frozen: freeze every weight and keep the model in eval mode (zero-shot methods).
        precision: ``'fp32'`` (default), ``'fp16'`` or ``'bf16'``; fp16 without CUDA falls back to fp32.
        max_length: longest tokenised prompt (longer ones are truncated); default the text tower's limit (its
            position embeddings, or the tokenizer's ``model_max_length`` if smaller). Prompts are padded to the
            longest of each batch, with an attention mask, so the batch does not change an embedding.
        init_cfg: mmengine init config (unused; the weights come from the files).
    """

    def __init__(self,
                 model_id: str,
                 model_cfg: Optional[dict] = None,
                 tokenizer: Optional[str] = None,
                 frozen: bool = True,
                 precision: str = 'fp32',
                 max_length: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        transformers = import_transformers()
        if not isinstance(model_id, str) or not model_id:
            raise ConfigError(f'{OPTION} must be a hub repository id (e.g. kakaobrain/align-base) or a folder, got '
                              f'{model_id!r}')
        precision = resolve_precision(precision)
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length < 2):
            raise ConfigError(f'model.backbone.max_length must be an integer >= 2 or None, got {max_length!r}')
        self.model_id = model_id
        self.precision = precision
        self.frozen = frozen
        download = not hf_offline()
        if model_cfg is not None:
            config = self._config_from_dict(transformers, dict(model_cfg))
            self.model = transformers.AutoModel.from_config(config)
            self.pretrained = None
            weights_id = f'random:config={_digest(dict(model_cfg))}:params={_parameters_digest(self.model)}'
            print_log(f'HFVLMBackbone {model_id}: random weights (model_cfg, model_type {config.model_type}).',
                      logger='current', level=logging.WARNING)
        else:
            folder = locate_hf_folder(model_id, need_weights=True, need_tokenizer=tokenizer is None,
                                      download=download)
            try:
                self.model = transformers.AutoModel.from_pretrained(folder, local_files_only=True)
            except Exception as err:  # an architecture this transformers does not know, a damaged file...
                raise ConfigError(f'{folder} ({OPTION}={model_id}) cannot be loaded by transformers '
                                  f'{transformers.__version__} as a model: {type(err).__name__}: {err}') from err
            self.pretrained = model_id
            weights_id = _files_identity([osp.join(folder, 'config.json')] + weight_files(folder))
        self.weights_id = weights_id
        self.model_type = self.model.config.model_type
        for method in ('get_image_features', 'get_text_features'):
            if not callable(getattr(self.model, method, None)):
                raise ConfigError(f'{OPTION}={model_id} builds a {type(self.model).__name__}, which has no {method}: '
                                  f'HFVLMBackbone needs a dual encoder (AlignModel, AltCLIPModel, GroupViTModel, '
                                  f'CLIPModel or another CLIP-like model).')
        tok_source = tokenizer or model_id
        tok_option = 'model.backbone.tokenizer' if tokenizer else OPTION
        tok_folder = locate_hf_folder(tok_source, need_weights=False, need_tokenizer=True, download=download,
                                      option=tok_option)
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(tok_folder, local_files_only=True)
        except Exception as err:  # e.g. only sentencepiece.bpe.model and no sentencepiece package
            raise ConfigError(f'The tokenizer in {tok_folder} ({tok_option}) cannot be loaded: {type(err).__name__}: '
                              f'{err}. A tokenizer.json in that folder needs nothing else; a sentencepiece model '
                              f'alone needs `pip install sentencepiece`.') from err
        self.tokenizer_id = _files_identity(sorted(osp.join(tok_folder, f) for f in TOKENIZER_FILES
                                                   if osp.isfile(osp.join(tok_folder, f))))
        self._check_vocabulary(tok_folder)
        self.max_length = max_length or self._text_limit()
        self._text_args = self._accepted_text_args()
        self._linear_proj = self._find_linear_projection()
        dtype = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)[precision]
        self.model.to(dtype)
        if frozen:
            self.model.requires_grad_(False)
        self.train(self.training)

    # ------------------------------------------------------------------ building
    @staticmethod
    def _config_from_dict(transformers, cfg: dict):
        model_type = cfg.pop('model_type', None)
        if not model_type:
            raise ConfigError(f'model.backbone.model_cfg needs model_type (one of {sorted(KNOWN_HF_MODELS)} or another '
                              f'transformers model type) beside the config class arguments.')
        try:
            return transformers.AutoConfig.for_model(model_type, **cfg)
        except ValueError as err:
            raise ConfigError(f'model.backbone.model_cfg: unknown transformers model_type {model_type!r} ({err})') \
                from err

    def _check_vocabulary(self, tok_folder: str) -> None:
        """Warn when the tokenizer has more tokens than the text tower embeds (another model's tokenizer: its
        high ids would fail, or read other tokens' vectors)."""
        text_cfg = getattr(self.model.config, 'text_config', None) or self.model.config
        size = getattr(text_cfg, 'vocab_size', None)
        if size and len(self.tokenizer) > size:
            print_log(f'HFVLMBackbone {self.model_id}: the tokenizer in {tok_folder} has {len(self.tokenizer)} tokens '
                      f'but the text tower embeds {size}: is it this model\'s tokenizer (model.backbone.tokenizer)?',
                      logger='current', level=logging.WARNING)

    def _text_limit(self) -> int:
        """The longest input the text tower takes: its position embeddings (less RoBERTa's padding offset), or the
        tokenizer's ``model_max_length`` if smaller."""
        text_cfg = getattr(self.model.config, 'text_config', None) or self.model.config
        limit = getattr(text_cfg, 'max_position_embeddings', None)
        if limit and getattr(text_cfg, 'model_type', '') in ROBERTA_POSITIONS:
            limit -= (getattr(text_cfg, 'pad_token_id', None) or 0) + 1
        tok_limit = getattr(self.tokenizer, 'model_max_length', None)
        if tok_limit and tok_limit < 1e6:
            limit = min(limit, tok_limit) if limit else tok_limit
        return int(limit or 77)

    def _accepted_text_args(self) -> tuple:
        """The tokenizer outputs ``get_text_features`` takes (ALIGN's and AltCLIP's ``token_type_ids``; CLIP has
        none)."""
        import inspect
        params = inspect.signature(self.model.get_text_features).parameters
        return tuple(k for k in ('input_ids', 'attention_mask', 'token_type_ids') if k in params)

    def _find_linear_projection(self) -> Optional[torch.nn.Linear]:
        """The image projection when it is one bias-free linear map applied to the vision tower's ``pooler_output``
        (CLIP, AltCLIP); None otherwise (ALIGN: no projection; GroupViT: an MLP)."""
        proj = getattr(self.model, 'visual_projection', None)
        vision = getattr(self.model, 'vision_model', None)
        if isinstance(proj, torch.nn.Linear) and proj.bias is None and vision is not None and \
                self.model_type in ('clip', 'altclip'):
            return proj
        return None

    @classmethod
    def weights_report(cls, cfg: dict) -> str:
        """Where the model and tokenizer files are (never downloads): a folder, a cached snapshot, or random
        initialisation for ``model_cfg``.

        Raises:
            MissingWeightsError: a file is missing; the message names the hub repository, the files and the option.
        """
        model_id, tokenizer = cfg.get('model_id'), cfg.get('tokenizer')
        if not model_id:
            raise ConfigError(f'{OPTION} is not set (a hub repository id or a folder)')
        folder = None
        if not cfg.get('model_cfg'):
            folder = locate_hf_folder(model_id, need_weights=True, need_tokenizer=tokenizer is None)
        tok = locate_hf_folder(tokenizer or model_id, need_weights=False, need_tokenizer=True,
                               option='model.backbone.tokenizer' if tokenizer else OPTION)
        if folder is None:
            return f'{model_id}: random initialisation (model_cfg, model_type ' \
                f'{dict(cfg["model_cfg"]).get("model_type")}); tokenizer {tok}'
        files = ', '.join(osp.basename(f) for f in weight_files(folder))
        return f'{model_id}: {folder} ({files}); tokenizer {tok}'

    # ------------------------------------------------------------------ identity
    @property
    def identity(self) -> dict:
        """What determines the image features: part of every feature-cache key."""
        import transformers
        return dict(backbone='HFVLMBackbone', model_id=self.model_id, model_type=self.model_type,
                    weights=self.weights_id, precision=self.precision, transformers=transformers.__version__)

    @property
    def text_identity(self) -> dict:
        """:attr:`identity` plus the tokenizer files and the truncation length."""
        ident = super().text_identity
        ident.update(tokenizer=self.tokenizer_id, max_length=self.max_length)
        return ident

    @property
    def embed_dim(self) -> int:
        dim = getattr(self.model.config, 'projection_dim', None)
        if dim:
            return int(dim)
        return int(self.model.text_projection.out_features)

    @property
    def logit_scale(self) -> torch.Tensor:
        """The model's own scale of cosines: ``exp(logit_scale)`` (CLIP, AltCLIP, GroupViT) or ``1 / temperature``
        (ALIGN). The zero-shot classifiers use 100 unless ``model.logit_scale=None``."""
        scale = getattr(self.model, 'logit_scale', None)
        if isinstance(scale, torch.Tensor):
            return scale.detach().float().exp()
        temperature = getattr(self.model, 'temperature', None)
        if isinstance(temperature, torch.Tensor):
            return 1.0 / temperature.detach().float()
        raise ConfigError(f'{type(self.model).__name__} has neither logit_scale nor temperature: set model.logit_scale '
                          f'to a number (e.g. 100).')

    @property
    def projection(self) -> Optional[torch.Tensor]:
        """``visual_projection.weight.T`` (D_pre, D), detached, for CLIP and AltCLIP; None for ALIGN (no projection)
        and GroupViT (an MLP projection), whose ``pre_proj`` is the embedding."""
        return self._linear_proj.weight.detach().T if self._linear_proj is not None else None

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def init_weights(self) -> None:
        """Nothing to initialise: the weights come from the files (or the random build, whose digest is in the
        identity). mmengine's recursive ``init_weights`` (the Runner's, before training) stops here instead of calling
        transformers' own ``init_weights``, which initialises whatever it does not find marked as initialised."""
        self._is_init = True

    def train(self, mode: bool = True):
        """A frozen model stays in eval mode (dropout off, GroupViT's batch norm on its running statistics)."""
        super().train(mode)
        if self.frozen:
            self.model.eval()
        return self

    # ------------------------------------------------------------------ image side
    def _image_embeddings(self, images: torch.Tensor):
        """(pooled feature before the projection, projected embedding) in the model's dtype."""
        try:
            if self._linear_proj is not None:
                # get_image_features is vision_model(...).pooler_output through visual_projection: the same two
                # steps, keeping the pooled feature
                pooled = _pooled(self.model.vision_model(pixel_values=images))
                return pooled, self._linear_proj(pooled)
            embed = _pooled(self.model.get_image_features(pixel_values=images))
            return embed, embed
        except ValueError as err:
            if "doesn't match model" in str(err):
                size = getattr(getattr(self.model.config, 'vision_config', None), 'image_size', None)
                raise ConfigError(f'{self.model_id} takes {size}x{size} images, but the test pipeline gives '
                                  f'{images.shape[-2]}x{images.shape[-1]}: set the CenterCrop crop_size (and the '
                                  f'resize) of the config\'s pipeline to {size} (configs/_base_/hf_preprocessing.py).'
                                  ) from err
            raise

    def extract_image_features(self, images: torch.Tensor,
                               kinds: Iterable[str] = ('global', )) -> Dict[str, torch.Tensor]:
        """Image features in float32.

        Args:
            images: normalised images (B, 3, H, W) (the config's pipeline and data preprocessor).
            kinds: subset of ``('global', 'pre_proj', 'embed')``.

        Returns:
            dict with the requested kinds: ``global`` (B, D) unit norm, ``embed`` (B, D) the model's image embedding
            (``get_image_features``), ``pre_proj`` (B, D_pre) the pooled feature before a linear projection (CLIP,
            AltCLIP), else the embedding.
        """
        kinds = self.check_kinds(kinds)
        pooled, embed = self._image_embeddings(images.to(device=self.text_device, dtype=self.dtype))
        out = {}
        if 'pre_proj' in kinds:
            out['pre_proj'] = pooled.float()
        if 'embed' in kinds:
            out['embed'] = embed.float()
        if 'global' in kinds:
            out['global'] = F.normalize(embed.float(), dim=-1)
        return out

    def encode_image(self, images: torch.Tensor, normalize: bool = True) -> torch.Tensor:
        emb = self._image_embeddings(images.to(device=self.text_device, dtype=self.dtype))[1].float()
        return F.normalize(emb, dim=-1) if normalize else emb

    # ------------------------------------------------------------------ text side
    def text_inputs(self, texts: Sequence[str]) -> dict:
        """The tokenizer's tensors (padded to the longest text, truncated to :attr:`max_length`) that
        ``get_text_features`` takes, on the model's device."""
        enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                             return_tensors='pt')
        return {k: enc[k].to(self.text_device) for k in self._text_args if k in enc}

    def _encode_batch(self, texts: Sequence[str]) -> torch.Tensor:
        return _pooled(self.model.get_text_features(**self.text_inputs(texts)))
