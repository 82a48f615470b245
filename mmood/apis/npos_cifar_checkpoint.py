"""Convert a checkpoint of NPOS trained from scratch on CIFAR (``deeplearning-wisc/npos`` ``training_from_scratch``,
``SupCEHeadResNet``) into an mmood ``NPOSCIFARClassifier`` checkpoint (``tools/model_converters/
npos_cifar_to_mmood.py``; docs/npos.md "From scratch on CIFAR").

Accepted layouts: a plain ``state_dict`` (what the CIFAR-100 script writes after each validation and the test script
loads) or a training file ``checkpoint_{epoch}.pth.tar`` (a dict with ``state_dict``, ``criterion_disp``,
``opt_state_dict``, ``epoch``). Every ``module.`` (DataParallel) is removed wherever it sits, then::

    encoder.X                      ->  backbone.resnet.X, with shortcut.{0,1} -> downsample.{0,1}
    head.{0,2}.{weight,bias}       ->  proj_head.{0,2}.{weight,bias}
    mlp.{0,2}.{weight,bias}        ->  outlier_mlp.{0,2}.{weight,bias}
    fc.*, prototypes               ->  dropped (fc never enters a loss or a score; the zero prototypes are unused)
    criterion_disp['prototypes']   ->  cider.prototypes (training files only: the trained EMA prototypes)

MMPretrain's ``ResNet_CIFAR`` already names the stem ``conv1`` / ``bn1`` and the blocks ``layerN.b.{conv,bn}{1,2}``.
The depth is read from the number of blocks of ``layer2`` (2 -> ResNet-18, 4 -> ResNet-34) and must be the config's;
the result is loaded strictly (every mapped key exists with its shape, every trained tensor is covered). The reference
instead strips ``module.`` and loads with ``strict=False``, so a training file or a depth mismatch loads nothing, or
part of the net, silently. NOTE: the layout is read from the reference's code; no released file was downloaded.
"""
import os.path as osp
import re
from typing import Any, Dict, Optional, Tuple

import torch

from ..cache import file_sha256
from ..utils import CheckpointMismatchError, atomic_open, check_checkpoint, load_checkpoint_file
from .config import read_config

__all__ = ['npos_cifar_to_mmood', 'npos_cifar_depth', 'convert_npos_cifar', 'DEFAULT_CONFIGS']

#: the config of each depth when none is given: the authors' CIFAR-10 (ResNet-18) and CIFAR-100 (ResNet-34) recipes
DEFAULT_CONFIGS = {18: 'configs/npos/npos_resnet18_cifar10.py', 34: 'configs/npos/npos_resnet34_cifar100.py'}
_DEPTH_OF_LAYER2 = {2: 18, 4: 34}
_HEADS = {'head.': 'proj_head.', 'mlp.': 'outlier_mlp.'}
_DROPPED = re.compile(r'^(fc\.|prototypes$)')


def _strip_module(key: str) -> str:
    return '.'.join(p for p in key.split('.') if p != 'module')


def source_state(checkpoint: Any) -> Tuple[Dict[str, torch.Tensor], Optional[torch.Tensor], bool]:
    """``(state with module. removed, trained prototypes or None, whether module. was found)`` of a loaded file."""
    prototypes = None
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get('state_dict'), dict):
        disp = checkpoint.get('criterion_disp')
        if isinstance(disp, dict) and isinstance(disp.get('prototypes'), torch.Tensor):
            prototypes = disp['prototypes']
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, dict) or not all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise CheckpointMismatchError('Not a state dict of tensors (nor a training file with `state_dict`)')
    prefixed = any('module' in k.split('.') for k in checkpoint)
    return {_strip_module(k): v for k, v in checkpoint.items()}, prototypes, prefixed


def npos_cifar_depth(state: Dict[str, torch.Tensor]) -> int:
    """ResNet depth of a reference state (``module.`` removed): from the number of blocks of ``layer2``."""
    blocks = {int(m.group(1)) for m in (re.match(r'^encoder\.layer2\.(\d+)\.', k) for k in state) if m}
    if len(blocks) not in _DEPTH_OF_LAYER2:
        raise CheckpointMismatchError(f'encoder.layer2 has {len(blocks)} blocks: not the reference\'s ResNet-18 (2) '
                                      'or ResNet-34 (4)')
    return _DEPTH_OF_LAYER2[len(blocks)]


def npos_cifar_to_mmood(state: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """``(mmood state, mapping source key -> mmood key)`` of a reference state (``module.`` removed); ``fc.*`` and
    the zero ``prototypes`` are left out (not in the mapping).

    Raises:
        CheckpointMismatchError: a key of no known part (all such keys listed).
    """
    mapping, unknown = {}, []
    for key in state:
        if _DROPPED.match(key):
            continue
        if key.startswith('encoder.'):
            mapping[key] = 'backbone.resnet.' + key[len('encoder.'):].replace('.shortcut.', '.downsample.')
        elif key.startswith(tuple(_HEADS)):
            prefix = next(p for p in _HEADS if key.startswith(p))
            mapping[key] = _HEADS[prefix] + key[len(prefix):]
        else:
            unknown.append(key)
    if unknown:
        raise CheckpointMismatchError(f'Keys of no part of SupCEHeadResNet ({len(unknown)}): {unknown[:8]}')
    return {dst: state[src].detach().clone() for src, dst in mapping.items()}, mapping


def _build_model(config: str, cfg_options: Optional[dict] = None):
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    import mmood.models  # noqa: F401  (registers the models)
    cfg = read_config(config, cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    if cfg.model.get('type') != 'NPOSCIFARClassifier':
        raise CheckpointMismatchError(f'{config} builds a {cfg.model.get("type")}, not an NPOSCIFARClassifier')
    return MODELS.build(cfg.model)


def convert_npos_cifar(src: str, dst: str, config: Optional[str] = None, cfg_options: Optional[dict] = None,
                       verbose: bool = True) -> Dict[str, Any]:
    """Convert the reference file ``src`` into the mmood checkpoint ``dst`` for ``config`` (default: the authors'
    recipe of the file's depth, :data:`DEFAULT_CONFIGS`); returns the written ``meta``.

    The training state mmood keeps and the reference does not (queues, synthesis step, iteration; the prototypes of
    a plain state dict) is written empty: the result is for testing, not for resuming.

    Raises:
        CheckpointMismatchError: unknown keys, a depth or class count other than the config's, missing or
            mis-shaped keys.
    """
    state, prototypes, prefixed = source_state(load_checkpoint_file(src))
    depth = npos_cifar_depth(state)
    converted, mapping = npos_cifar_to_mmood(state)
    config = config or DEFAULT_CONFIGS[depth]
    model = _build_model(config, cfg_options)
    if model.backbone.depth != depth:
        raise CheckpointMismatchError(f'The file holds a ResNet-{depth}; {config} builds a ResNet-'
                                      f'{model.backbone.depth} (model.backbone.depth={depth}, or the config of the '
                                      f'other CIFAR)')
    classes = state['fc.weight'].shape[0] if 'fc.weight' in state else None
    if classes is not None and classes != model.num_classes:
        raise CheckpointMismatchError(f'The file classifies {classes} classes (fc.weight); {config} has '
                                      f'{model.num_classes} class names')
    model_state = model.state_dict()
    if prototypes is not None:
        converted['cider.prototypes'] = prototypes.detach().clone()
        converted['cider.initialised'] = torch.ones((), dtype=torch.bool)
    unexpected = [k for k in converted if k not in model_state]
    shapes = [f'{k} {tuple(v.shape)} vs {tuple(model_state[k].shape)}' for k, v in converted.items()
              if k in model_state and tuple(v.shape) != tuple(model_state[k].shape)]
    missing = sorted(k for k in model_state if k.startswith(tuple(model.checkpoint_required_prefixes))
                     and k not in converted)
    if unexpected or shapes or missing:
        raise CheckpointMismatchError('\n  '.join(
            ['The file does not fit the config\'s NPOSCIFARClassifier:'] +
            ([f'unknown keys ({len(unexpected)}): {unexpected[:8]}'] if unexpected else []) +
            ([f'shape mismatch ({len(shapes)}): ' + '; '.join(shapes[:5])] if shapes else []) +
            ([f'missing keys ({len(missing)}): {missing[:8]}'] if missing else []) +
            ['Is --config the model the file was trained for (its depth and number of classes)?']))
    filled = [k for k in model_state if k not in converted]
    full = {k: (converted[k].to(model_state[k].dtype) if k in converted else model_state[k]) for k in model_state}
    dropped = sorted(k for k in state if k not in mapping)
    meta = dict(converted_from=osp.abspath(src), sha256=file_sha256(src), config=config, depth=depth,
                source='deeplearning-wisc/npos training_from_scratch SupCEHeadResNet', module_prefix=prefixed,
                trained_prototypes=prototypes is not None, dropped=dropped,
                training_state=f'not in the reference file, written as a new model holds them: {filled}')
    out = dict(state_dict=full, meta=meta)
    check_checkpoint(model, out, dst)
    model.load_state_dict(full, strict=True)
    with atomic_open(dst, 'wb') as f:
        torch.save(out, f)
    if verbose:
        print(f'{dst}: ResNet-{depth} from {src} ({len(mapping)} tensors{", module. removed" if prefixed else ""}; '
              f'{"trained" if prototypes is not None else "no"} CIDER prototypes); dropped {dropped}; for {config}')
    return meta
