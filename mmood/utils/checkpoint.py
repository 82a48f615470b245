"""Loading checkpoints safely and refusing the ones that do not belong to the model.

* :func:`load_checkpoint_file` -- ``torch.load`` with ``weights_only=True`` always. mmengine's own training
  checkpoints pickle a few more objects (its ``HistoryBuffer``, numpy arrays and dtypes in the message hub); those,
  and only those, are allowed through ``torch.serialization.safe_globals`` after
  ``get_unsafe_globals_in_checkpoint`` has listed what the file references. Anything else (arbitrary classes or
  functions) is refused with a message naming the file and the objects; nothing is unpickled with
  ``weights_only=False``. (On torch < 2.5, which lacks these functions, mmengine checkpoints fall back to torch's
  own default.)
* :func:`check_checkpoint` -- every key of a checkpoint must map onto the model with the same shape, and every
  key the model declares as coming from its checkpoints (``model.checkpoint_required_prefixes``: what the method
  trains) must be there; otherwise :class:`CheckpointMismatchError` lists the keys and says which config or
  converter fits. mmengine loads ``load_from`` non-strictly (a wrong file would leave the model untrained and the
  run would report an untrained model's numbers); :class:`~mmood.engine.OODPrepareHook` calls this check on every
  checkpoint the Runner loads, and ``tools/score.py`` / ``tools/extract_features.py`` before loading.
"""
import hashlib
import importlib
import os
import os.path as osp
import pickle
import re
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch

from .errors import DataError, UserError

__all__ = ['UnsafeCheckpointError', 'CheckpointMismatchError', 'load_checkpoint_file', 'checkpoint_state_dict',
           'check_checkpoint', 'checkpoint_record', 'TRAINING_CHECKPOINT_GLOBALS']

#: What mmengine training checkpoints reference besides tensors (numpy 1.x and 2.x spellings).
TRAINING_CHECKPOINT_GLOBALS = frozenset({
    'mmengine.logging.history_buffer.HistoryBuffer', 'numpy.ndarray', 'numpy.dtype', 'builtins.getattr',
    'numpy.core.multiarray.scalar', 'numpy._core.multiarray.scalar', 'numpy.core.multiarray._reconstruct',
    'numpy._core.multiarray._reconstruct',
})
#: top-level keys of a plain open_clip ``state_dict`` (``model.backbone.pretrained`` files)
_OPEN_CLIP_KEYS = ('visual.', 'transformer.', 'token_embedding.', 'positional_embedding', 'text_projection',
                   'logit_scale', 'ln_final.')


class UnsafeCheckpointError(UserError, pickle.UnpicklingError):
    """The file references objects that are not plain tensors or mmengine's checkpoint bookkeeping."""


class CheckpointMismatchError(UserError, ValueError):
    """The checkpoint does not belong to the model (the message lists the keys and the fix)."""


def _numpy_dtypes() -> List[Any]:
    import numpy as np
    dtypes = getattr(np, 'dtypes', None)
    return [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')] if dtypes is not None else []


#: the CHECKPOINT argument that means "no checkpoint" (zero-shot configs under scripts that require one, such as
#: MMPretrain's tools/test.py): an empty checkpoint, accepted only by models that need none
NO_CHECKPOINT = 'none'


def load_checkpoint_file(path: str, map_location: Any = 'cpu') -> Any:
    """``torch.load`` with ``weights_only=True``; mmengine training checkpoints allowed their bookkeeping objects.
    ``'none'`` (:data:`NO_CHECKPOINT`) is an empty checkpoint.

    Raises:
        DataError: no such file (a ``FileNotFoundError``, reported in one line by the tools).
        UnsafeCheckpointError: the file references other objects (named in the message).
    """
    if str(path).lower() == NO_CHECKPOINT and not osp.exists(path):
        return dict(state_dict={})
    path = osp.expanduser(path)
    if not osp.isfile(path):
        raise DataError(f'Checkpoint {path} can not be found (tools/train.py writes work_dirs/<config>/iter_<N>.pth '
                        f'or epoch_<N>.pth; "none" tests without a checkpoint)')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        lister = getattr(torch.serialization, 'get_unsafe_globals_in_checkpoint', None)
        scoped = getattr(torch.serialization, 'safe_globals', None)
        if lister is None or scoped is None:  # torch < 2.5: torch's own default, as mmengine does
            return torch.load(path, map_location=map_location)
        names = set(lister(path))
    unknown = sorted(names - TRAINING_CHECKPOINT_GLOBALS)
    if unknown:
        raise UnsafeCheckpointError(
            f'{path} is not a plain checkpoint: unpickling it would create {unknown[:8]}. mmood loads checkpoints '
            f'with weights_only=True and allows only mmengine training checkpoints\' bookkeeping; re-save the '
            f'weights as a state_dict of tensors (torch.save(model.state_dict(), file)).') from None
    allowed = []
    for name in names:
        module, _, attr = name.rpartition('.')
        allowed.append(getattr(importlib.import_module(module), attr))
    with scoped(allowed + _numpy_dtypes()):
        return torch.load(path, map_location=map_location, weights_only=True)


def checkpoint_state_dict(checkpoint: Any, revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )
                          ) -> Dict[str, Any]:
    """The ``state_dict`` of a loaded checkpoint (its ``state_dict`` entry, else the dict itself), keys revised as
    mmengine revises them (a DDP ``module.`` prefix removed)."""
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else checkpoint
    if not isinstance(state, dict):
        raise CheckpointMismatchError(f'The checkpoint holds a {type(state).__name__}, not a state_dict')
    out = {}
    for key, value in state.items():
        for pattern, repl in revise_keys:
            key = re.sub(pattern, repl, key)
        out[key] = value
    return out


def _groups(keys: Iterable[str], depth: int = 2) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for key in keys:
        prefix = '.'.join(key.split('.')[:depth])
        counts[prefix] = counts.get(prefix, 0) + 1
    return counts


def _hint(state: Dict[str, Any], model_keys: Sequence[str], mismatched: List[Tuple[str, tuple, tuple]]) -> str:
    keys = list(state)
    if keys and all(k.startswith(_OPEN_CLIP_KEYS) for k in keys):
        return ('This file holds plain open_clip weights, not a model checkpoint: pass it as the backbone\'s weights, '
                '--cfg-options model.backbone.pretrained=FILE, and no CHECKPOINT argument.')
    if 'head.fc.weight' in state and 'head.mean' in state:
        classes, width = tuple(state['head.fc.weight'].shape)
        if not any(k.startswith('head.fc.') for k in model_keys):
            return (f'This is a PLP linear-probe checkpoint ({classes} classes on {width}-wide features): test it '
                    f'with a LinearProbeClassifier config (configs/plp/plp_*.py) built on the tower that gave them.')
        if mismatched:
            return (f'This probe was trained for {classes} classes on {width}-wide features; the config builds '
                    f'{tuple(dict((k, m) for k, _, m in mismatched).get("head.fc.weight", ()))} (class names, '
                    f'backbone). Use the config it was trained with.')
    if any(k.startswith('backbone.clip.') for k in keys) and not any(k.startswith('backbone.clip.')
                                                                     for k in model_keys):
        return ('This is a checkpoint of a whole CLIP model (backbone.clip.*), and this config keeps the tower frozen '
                'outside its checkpoints: export the weights with tools/export_clip_weights.py CHECKPOINT OUT.pth '
                'and set model.backbone.pretrained=OUT.pth.')
    if mismatched:
        return ('The shapes differ: the checkpoint was trained with another architecture or class list than this '
                'config builds. Use the config it was trained with.')
    return 'This checkpoint does not belong to this config: use the config it was trained with.'


def check_checkpoint(model: torch.nn.Module, checkpoint: Any, path: Optional[str] = None) -> Dict[str, Any]:
    """Refuse a checkpoint that does not belong to ``model``; return what it loads.

    Every key must exist in the model with the same shape, and every key under the model's
    ``checkpoint_required_prefixes`` (what its method trains) must be present. A checkpoint that loads nothing is
    refused too, except ``'none'`` (:data:`NO_CHECKPOINT`) for a model that requires nothing.

    Returns:
        ``{'keys': n, 'groups': {prefix: count}}`` of what the checkpoint loads.

    Raises:
        CheckpointMismatchError: one message listing unexpected, mis-shaped and missing keys, and the fix.
    """
    state = checkpoint_state_dict(checkpoint)
    model_state = model.state_dict()
    unexpected = [k for k in state if k not in model_state]
    mismatched = [(k, tuple(getattr(state[k], 'shape', ())), tuple(model_state[k].shape)) for k in state
                  if k in model_state and hasattr(state[k], 'shape') and tuple(state[k].shape) !=
                  tuple(model_state[k].shape)]
    required = tuple(getattr(model, 'checkpoint_required_prefixes', ()))
    missing = [k for k in model_state if k.startswith(required) and k not in state] if required else []
    loaded = [k for k in state if k in model_state]
    empty_allowed = not state and str(path).lower() == NO_CHECKPOINT
    if unexpected or mismatched or missing or not (loaded or empty_allowed):
        where = f' {path}' if path else ''
        lines = [f'Checkpoint{where} does not fit {type(model).__name__}: {len(loaded)} of its {len(state)} keys '
                 f'map onto the model.']
        if unexpected:
            lines.append(f'unexpected keys ({len(unexpected)}): {unexpected[:8]}' + (' ...' if len(unexpected) > 8
                                                                                     else ''))
        if mismatched:
            lines.append('shape mismatch: ' + '; '.join(f'{k} {a} in the checkpoint vs {b} in the model'
                                                        for k, a, b in mismatched[:5]))
        if missing:
            lines.append(f'missing keys that the method trains ({len(missing)}): {missing[:8]}')
        lines.append(_hint(state, list(model_state), mismatched))
        raise CheckpointMismatchError('\n  '.join(lines))
    return dict(keys=len(loaded), groups=_groups(loaded))


def checkpoint_record(path: str, loaded: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Provenance of a checkpoint for ``metrics.json`` and reports: path, size, SHA-256 and what it loaded."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(16 * 2**20), b''):
            h.update(block)
    return dict(path=osp.abspath(path), bytes=os.path.getsize(path), sha256=h.hexdigest(), loaded=loaded or {})
