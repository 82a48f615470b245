"""Catching config mistakes before they silently do nothing.

``--cfg-options test_evalutor.fpr_rule=interp`` would add a new top-level key that nothing reads, and the run would
report the default rule's numbers. :func:`check_cfg_options` refuses every option whose key is neither in the
config nor an argument of the component it sets (``model.head.tau`` is valid although the config does not write it:
``NegLabelHead`` takes it; so is ``model.head.grouping.ngroup``: a key of the option dict ``grouping`` the head
declares in ``option_groups``), naming the closest existing key.
"""
import difflib
import inspect
from typing import Any, Dict, Iterable, List, Optional

from .errors import ConfigError

__all__ = ['check_cfg_options', 'component_options', 'RUNNER_KEYS']

#: top-level keys the Runner (and mmood's tools) read even when a config does not write them
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg',
    'auto_scale_lr', 'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks',
    'custom_hooks', 'data_preprocessor', 'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
    'visualizer', 'default_scope', 'randomness', 'experiment_name', 'cfg', 'model_wrapper_cfg', 'custom_imports',
    'id_train_dataloader', 'cache_dir',
})


def _registered_class(type_name: Any) -> Optional[type]:
    if not isinstance(type_name, str):
        return type_name if inspect.isclass(type_name) else None
    from mmpretrain import registry
    for name in ('MODELS', 'DATASETS', 'METRICS', 'HOOKS', 'TRANSFORMS', 'LOOPS', 'PARAM_SCHEDULERS', 'OPTIMIZERS',
                 'OPTIM_WRAPPERS', 'DATA_SAMPLERS', 'EVALUATOR', 'VISUALIZERS', 'VISBACKENDS', 'LOG_PROCESSORS',
                 'MODEL_WRAPPERS', 'FUNCTIONS'):
        reg = getattr(registry, name, None)
        cls = reg.get(type_name.split('.')[-1]) if reg is not None else None
        if cls is not None:
            return cls
    return None


def component_options(type_name: Any) -> List[str]:
    """The keyword arguments of a registered component's ``__init__`` (over its class hierarchy)."""
    cls = _registered_class(type_name)
    if cls is None:
        return []
    names = []
    for klass in getattr(cls, '__mro__', (cls, )):
        init = klass.__dict__.get('__init__')
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):
            continue
        names += [n for n, p in params.items() if n != 'self' and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    return sorted(set(names))


def _option_groups(node: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    """The option dicts a component declares (``option_groups``: name -> defaults, e.g. ``NegLabelHead``'s
    ``mining``), so ``model.head.mining.corpus_dir`` is checked against the keys ``mining`` takes."""
    cls = _registered_class(node.get('type')) if 'type' in node else None
    return dict(getattr(cls, 'option_groups', None) or {})


def _error(option: str, path: List[str], key: str, candidates: Iterable[str]) -> ConfigError:
    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
    where = '.'.join(path) or 'the top level'
    hint = f' Did you mean "{".".join(path + [close[0]])}"?' if close else ''
    return ConfigError(f'--cfg-options {option}: "{key}" is not a key of {where} in the config, nor an option of the '
                       f'component there, so it would be ignored.{hint}')


def check_cfg_options(cfg: Any, options: Optional[Dict[str, Any]]) -> None:
    """Refuse ``--cfg-options`` keys that do not exist (see the module docstring).

    Args:
        cfg: the config the options will be merged into.
        options: ``{'a.b.c': value}`` as mmengine's ``DictAction`` parses them.

    Raises:
        ConfigError: an unknown key, naming the closest existing one.
    """
    root = cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg
    for option in options or {}:
        parts = option.split('.')
        node, path = root, []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, (list, tuple)):
                if not part.lstrip('-').isdigit() or not -len(node) <= int(part) < len(node):
                    raise ConfigError(f'--cfg-options {option}: "{part}" is not an index of '
                                      f'{".".join(path)} (a list of {len(node)})')
                node, path = node[int(part)], path + [part]
                continue
            if not isinstance(node, dict):
                raise ConfigError(f'--cfg-options {option}: {".".join(path)} is a value, not a section with keys')
            groups = _option_groups(node)
            if part in groups and not last:  # an option dict (``mining=dict(...)``): its keys are its defaults'
                node, path = dict(groups[part], **dict(node.get(part) or {})), path + [part]
                continue
            if part in node:
                node, path = node[part], path + [part]
                continue
            options_here = component_options(node.get('type')) if 'type' in node else []
            if last and (part in options_here or (not path and part in RUNNER_KEYS)):
                break
            if not path and part in RUNNER_KEYS:  # a new section the Runner reads
                break
            raise _error(option, path, part, list(node) + options_here + (list(RUNNER_KEYS) if not path else []))
