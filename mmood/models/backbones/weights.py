"""What a CLIP weights file needs of the architecture it is loaded into: the activation.

OpenAI's CLIP (Radford et al., ICML 2021; the ``clip`` package's ``model.py``) uses **QuickGELU**,
``x * sigmoid(1.702 x)``, in every transformer MLP. open_clip's plain model names (``ViT-B-16``, ``ViT-B-32``,
``ViT-L-14``, ``RN50``...) build **GELU**; OpenAI's weights need the ``-quickgelu`` variant. open_clip's
``create_model`` only warns about the mismatch when it is given the tag, and not at all when it is given a file, so
a model built that way silently differs from OpenAI's (image and text embeddings by about 1 % on random weights of
the real layout; the known zero-shot accuracy drop of the wrong activation on real ones).

mmood therefore decides the activation from the weights (:func:`weights_activation`):

* a **tag** (``'openai'``, ``'laion2b_s34b_b88k'``...): open_clip's pretrained config of that tag says whether its
  weights were trained with QuickGELU (its ``quick_gelu`` flag, the only architecture flag those configs carry);
* a **file**: an OpenAI TorchScript archive (the ``clip.load`` download, ``ViT-B-16.pt``) or a state dict in OpenAI's
  layout (saved from such an archive: it keeps OpenAI's ``input_resolution`` / ``context_length`` / ``vocab_size``
  entries) needs QuickGELU; an ``open_clip_config.json`` beside the file (a Hugging Face hub snapshot or a
  ``local-dir`` folder) states the activation of the model the file was saved from;
* anything else cannot be told from the file: :func:`resolve_activation` then takes the config's
  ``activation`` option, and refuses to guess when the architecture exists with both activations.
"""
import functools
import json
import os
import os.path as osp
import zipfile
from typing import Iterable, Optional, Tuple

QUICK_GELU = 'quick_gelu'
GELU = 'gelu'
ACTIVATIONS = (QUICK_GELU, GELU)
#: entries OpenAI's TorchScript archives hold besides the weights (``clip.model.build_model`` drops them)
OPENAI_EXTRA_KEYS = ('input_resolution', 'context_length', 'vocab_size')
QUICKGELU_SUFFIX = '-quickgelu'
OPTION = 'model.backbone.activation'


def activation_of(quick_gelu: bool) -> str:
    return QUICK_GELU if quick_gelu else GELU


def is_torchscript_archive(path: str) -> bool:
    """A TorchScript archive (``torch.jit.save``; OpenAI's ``clip.load`` files) rather than a ``torch.save`` file:
    a zip holding compiled code (``code/``) and ``constants.pkl``."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(name.split('/', 1)[-1] == 'constants.pkl' or '/code/' in name for name in names)


def _state_keys(path: str) -> Optional[Iterable[str]]:
    """The keys of a state-dict file without reading its tensors (safetensors header, or a memory-mapped
    ``torch.load``); None when that is not possible (a legacy non-zip ``torch.save`` file, or not a weights file)."""
    import torch
    try:
        if path.endswith('.safetensors'):
            from safetensors import safe_open
            with safe_open(path, framework='pt') as f:
                return list(f.keys())
        if not zipfile.is_zipfile(path):
            return None
        state = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
    except Exception:  # not readable this way: the origin stays unknown, loading reports the real problem
        return None
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    return [k[len('module.'):] if k.startswith('module.') else k for k in state] if isinstance(state, dict) else None


def _sidecar_activation(path: str) -> Optional[Tuple[str, str]]:
    """The activation stated by an ``open_clip_config.json`` in the file's folder, if any."""
    sidecar = osp.join(osp.dirname(osp.abspath(path)), 'open_clip_config.json')
    if not osp.isfile(sidecar):
        return None
    try:
        with open(sidecar, encoding='utf-8') as f:
            config = json.load(f)
    except (OSError, ValueError):
        return None
    model_cfg = config.get('model_cfg', config) if isinstance(config, dict) else None
    if not isinstance(model_cfg, dict) or 'vision_cfg' not in model_cfg:
        return None
    return activation_of(bool(model_cfg.get('quick_gelu', False))), f'{sidecar} (quick_gelu=' \
        f'{bool(model_cfg.get("quick_gelu", False))})'


def openai_format(path: str) -> Optional[str]:
    """``'torchscript'`` for an OpenAI TorchScript archive, ``'state_dict'`` for a state dict in OpenAI's layout
    (saved from such an archive: it keeps OpenAI's ``input_resolution`` / ``context_length`` / ``vocab_size``
    entries), None for any other file. Both need QuickGELU, and open_clip's strict loading accepts neither as it is
    (see :func:`load_openai_weights`). Looked up once per file version (path, size, modification time)."""
    stat = os.stat(path)
    return _openai_format(osp.abspath(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _openai_format(path: str, size: int, mtime_ns: int) -> Optional[str]:
    if is_torchscript_archive(path):
        return 'torchscript'
    keys = _state_keys(path)
    if keys is not None and any(k in OPENAI_EXTRA_KEYS for k in keys):
        return 'state_dict'
    return None


def openai_state_dict(path: str) -> dict:
    """The weights of an OpenAI file (:func:`openai_format`) under open_clip's key names: the TorchScript archive's
    state dict (``torch.jit.load``) or the state dict, less OpenAI's non-weight entries."""
    import torch
    if is_torchscript_archive(path):
        state = torch.jit.load(path, map_location='cpu').state_dict()
    else:
        state = torch.load(path, map_location='cpu', weights_only=True)
        if isinstance(state.get('state_dict'), dict):
            state = state['state_dict']
    return {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in state.items()
            if k not in OPENAI_EXTRA_KEYS}


def load_openai_weights(model, path: str) -> None:
    """Load OpenAI's weights (:func:`openai_state_dict`) into an open_clip ``model`` of the same architecture,
    strictly, cast to the model's dtype (OpenAI's files are float16), as ``clip.model.build_model`` does."""
    model.load_state_dict(openai_state_dict(path), strict=True)


def weights_activation(model_name: str, pretrained: Optional[str], checkpoint: Optional[str]
                       ) -> Tuple[Optional[str], str]:
    """The activation the weights were trained with, and how that is known.

    Args:
        model_name: open_clip model name.
        pretrained: the config's ``pretrained`` value (a tag or a file path; None for random weights).
        checkpoint: the local file it resolved to (:func:`resolve_pretrained`), or None.

    Returns:
        ``(activation, reason)``: ``'quick_gelu'`` / ``'gelu'``, or None when the weights do not tell (random
        weights, or a plain state dict without a config beside it).
    """
    import open_clip
    if not pretrained or checkpoint is None:
        return None, 'random weights'
    if not osp.isfile(osp.expanduser(pretrained)):  # a tag
        cfg = open_clip.get_pretrained_cfg(model_name, pretrained) or {}
        quick = bool(cfg.get('quick_gelu', False))
        return activation_of(quick), f"open_clip's pretrained config of tag {pretrained!r} (quick_gelu={quick})"
    fmt = openai_format(checkpoint)
    if fmt == 'torchscript':
        return QUICK_GELU, f'{checkpoint} is an OpenAI TorchScript archive (the clip.load format)'
    if fmt == 'state_dict':
        return QUICK_GELU, (f'{checkpoint} is a state dict in OpenAI\'s layout (it keeps OpenAI\'s '
                            f'{"/".join(OPENAI_EXTRA_KEYS)} entries)')
    sidecar = _sidecar_activation(checkpoint)
    if sidecar:
        return sidecar
    return None, f'{checkpoint} does not say which activation it was trained with'


def has_both_activations(model_name: str) -> bool:
    """Whether weights of ``model_name``'s architecture exist with either activation, so that a file of unknown
    origin cannot be loaded without saying which: its ``-quickgelu`` twin exists, or its tags disagree."""
    import open_clip
    base = model_name[:-len(QUICKGELU_SUFFIX)] if model_name.endswith(QUICKGELU_SUFFIX) else model_name
    names = set(open_clip.list_models())
    if base + QUICKGELU_SUFFIX in names and base in names:
        return True
    flags = {bool((open_clip.get_pretrained_cfg(model_name, tag) or {}).get('quick_gelu', False))
             for tag in open_clip.list_pretrained_tags_by_model(model_name)}
    return len(flags) > 1


def resolve_activation(model_name: str, pretrained: Optional[str], checkpoint: Optional[str],
                       activation: Optional[str], model_cfg: dict) -> Tuple[str, str]:
    """The activation to build ``model_name`` with, and why.

    The weights decide when they tell (:func:`weights_activation`); the config's ``activation`` (or a
    ``-quickgelu`` model name) must then agree with them. When the weights do not tell, the config's ``activation``
    decides; without it, random weights take the architecture's own (``model_cfg``), and a file of an architecture
    that exists with both activations is refused with the option to set.

    Raises:
        ValueError: an unknown ``activation``.
        ConfigError: the config contradicts the weights, or a file's activation cannot be told.
    """
    from ...utils.errors import ConfigError
    if activation is not None and activation not in ACTIVATIONS:
        raise ValueError(f'{OPTION} must be one of {ACTIVATIONS} or None (from the weights), got {activation!r}')
    stated, where = activation, f'{OPTION}={activation!r}'
    if stated is None and model_name.endswith(QUICKGELU_SUFFIX):
        stated, where = QUICK_GELU, f'the model name {model_name!r}'
    needed, why = weights_activation(model_name, pretrained, checkpoint)
    if needed and stated and needed != stated:
        raise ConfigError(f'{where} contradicts the weights: {why}, so they need {needed!r}. Set {OPTION}='
                          f'{needed!r} (or leave it out: mmood follows the weights), or use other weights.')
    if needed:
        return needed, why
    if stated:
        return stated, f'stated by {where}'
    if checkpoint is not None and has_both_activations(model_name):
        raise ConfigError(
            f'Cannot tell which activation the weights {checkpoint} of {model_name} were trained with: open_clip has '
            f'this architecture with QuickGELU (OpenAI\'s CLIP and some other tags) and with GELU (e.g. LAION\'s), '
            f'and the file does not say. Set {OPTION}=\'quick_gelu\' for OpenAI weights (e.g. the '
            f'open_clip_pytorch_model.bin of a timm/..._clip_224.openai hub repository) or {OPTION}=\'gelu\' for '
            f'LAION / DataComp weights (see docs/weights.md).')
    own = activation_of(bool(model_cfg.get('quick_gelu', False)))
    return own, f"{model_name}'s model config (quick_gelu={own == QUICK_GELU})"
