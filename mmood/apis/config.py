"""Configs as the tools use them: read with checked ``--cfg-options``, the user's cache folder filled in, a work
directory, a distributed backend the machine can run.

The rest of mmood reads no environment variable and never chooses a cache folder: this module is where the user's
environment becomes explicit config values. The cache folder is resolved by :func:`resolve_cache_dir` alone and
written into a config by :func:`apply_cache_dir` alone.
"""
import ast
import os
import os.path as osp
from typing import Any, Dict, Mapping, Optional, Sequence

from mmengine.config import Config, ConfigDict

__all__ = ['default_cache_dir', 'resolve_cache_dir', 'apply_cache_dir', 'use_available_backend', 'apply_common_options',
           'read_config', 'load_config', 'load_runner_config', 'set_work_dir', 'raw_cfg_options',
           'parse_method_options', 'plain_dict', 'type_name']


def default_cache_dir() -> str:
    """The user's cache folder for mmood: ``$MMOOD_CACHE`` or ``$XDG_CACHE_HOME/mmood`` or ``~/.cache/mmood``."""
    if os.environ.get('MMOOD_CACHE'):
        return os.environ['MMOOD_CACHE']
    base = os.environ.get('XDG_CACHE_HOME') or osp.join(osp.expanduser('~'), '.cache')
    return osp.join(base, 'mmood')


def resolve_cache_dir(cache_dir: Optional[str] = None, cfg: Optional[Mapping] = None) -> str:
    """The cache folder a run uses, as an absolute path: ``cache_dir`` (``--cache-dir``) if given, else the config's
    ``model.cache_dir`` if it sets one, else :func:`default_cache_dir`."""
    model = (cfg.get('model') if cfg is not None else None) or {}
    folder = cache_dir or model.get('cache_dir') or default_cache_dir()
    return osp.abspath(osp.expanduser(str(folder)))


def apply_cache_dir(cfg: Config, cache_dir: Optional[str] = None, model: bool = False) -> Config:
    """Write the cache folder (:func:`resolve_cache_dir`) into ``cfg``, everywhere a part of the config reads it:

    * ``cfg.cache_dir`` (what the feature tools read);
    * ``cfg.model.cache_dir`` when the model config declares the key (any value; a Runner builds the model, and not
      every model takes one) or when ``model`` is True (the runner-less tools, which build mmood's OOD models);
    * the ``cache_dir`` of a dataloader's dataset that declares it as None (a dataset with a cached index, e.g.
      ``ImageCaptionDataset``); a folder set by the user is kept.
    """
    folder = resolve_cache_dir(cache_dir, cfg)
    cfg.cache_dir = folder
    if 'model' in cfg and ('cache_dir' in cfg.model or model):
        cfg.model.cache_dir = folder
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        if 'cache_dir' in dataset and dataset['cache_dir'] is None:
            dataset['cache_dir'] = folder
    return cfg


def use_available_backend(cfg: Config) -> Config:
    """Without CUDA, ``env_cfg.dist_cfg.backend`` becomes ``gloo`` (nccl needs GPUs)."""
    import torch
    if not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {})
        cfg.env_cfg.setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    return cfg


def apply_common_options(cfg: Config, cache_dir: Optional[str] = None) -> Config:
    """What every runner-building tool does to its config: :func:`apply_cache_dir` and
    :func:`use_available_backend`."""
    return use_available_backend(apply_cache_dir(cfg, cache_dir))


def read_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` with ``--cfg-options`` merged after checking every key exists
    (:func:`mmood.utils.check_cfg_options`); a missing file is one clear error. The config text the Runner logs
    and dumps is not reformatted by yapf (seconds per call on long paths)."""
    from ..utils import ConfigError, check_cfg_options
    if not osp.isfile(path):
        raise ConfigError(f'Config file not found: {path} (the configs are under configs/, e.g. '
                          f'configs/mcm/mcm_vitb16.py)')
    # format_python_code=False: the Runner logs and dumps the config several times, and yapf's formatting of configs
    # with long paths takes seconds each time (5 s per call seen on a generated config); the text stays valid Python
    cfg = Config.fromfile(path, format_python_code=False)
    # mmengine 0.10.x drops the flag for ordinary (non-lazy) configs: set it as Config.__init__ would
    super(Config, cfg).__setattr__('_format_python_code', False)
    if cfg_options:
        from mmengine.registry import init_default_scope
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    return cfg


def set_work_dir(cfg: Config, config: str, work_dir: Optional[str] = None) -> Config:
    """``cfg.work_dir``: ``work_dir`` (``--work-dir``), else the config's, else ``./work_dirs/<config name>``."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    return cfg


def load_runner_config(config: str, cfg_options: Optional[dict] = None, launcher: str = 'none',
                       work_dir: Optional[str] = None, cache_dir: Optional[str] = None) -> Config:
    """A config for a Runner: --cfg-options, the launcher, the work dir (:func:`set_work_dir`), the cache folder and
    the backend (:func:`apply_common_options`)."""
    cfg = read_config(config, cfg_options)
    cfg.launcher = launcher
    return apply_common_options(set_work_dir(cfg, config, work_dir), cache_dir)


def load_config(config: str, cfg_options: Optional[dict] = None, cache_dir: Optional[str] = None) -> Config:
    """A config for the runner-less tools (re-scoring, feature extraction, outlier lists): --cfg-options, the cache
    folder (``cfg.cache_dir`` and ``cfg.model.cache_dir``), the CPU backend, and mmpretrain's default scope."""
    from mmengine.registry import init_default_scope
    cfg = read_config(config, cfg_options)
    use_available_backend(apply_cache_dir(cfg, cache_dir, model=True))
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def raw_cfg_options(argv: Sequence[str]) -> list:
    """The ``--cfg-options`` arguments as the user typed them (to repeat them in a suggested command)."""
    argv = list(argv)
    if '--cfg-options' not in argv:
        return []
    rest = argv[argv.index('--cfg-options') + 1:]
    out = []
    for item in rest:
        if item.startswith('--'):
            break
        out.append(item)
    return out


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_method_options(items: Optional[Sequence[str]]) -> Dict[str, Dict[str, Any]]:
    """``['knn.k=100', 'energy.temperature=2']`` -> ``{'knn': {'k': 100}, 'energy': {'temperature': 2}}``; a key
    of an option dict keeps its dots (``neglabel.grouping.ngroup=2`` -> ``{'neglabel': {'grouping.ngroup': 2}}``).

    Values are Python literals when they parse as one (numbers, booleans, None, lists), else strings.

    Raises:
        ValueError: an item is not of the form ``method.option=value``.
    """
    out: Dict[str, Dict[str, Any]] = {}
    for item in items or ():
        name, sep, value = item.partition('=')
        method, dot, option = name.partition('.')
        if not sep or not dot or not method or not option:
            raise ValueError(f'Method option "{item}" must look like method.option=value (e.g. knn.k=100)')
        out.setdefault(method, {})[option] = _literal(value)
    return out


def plain_dict(section: Mapping) -> dict:
    """A config section (a ``ConfigDict`` or a dict) as a plain, independent dict."""
    return section.to_dict() if isinstance(section, ConfigDict) else dict(section)


def type_name(section: Mapping) -> str:
    """The short name of a config section's ``type`` (a registered name, a dotted path or a class)."""
    kind = section.get('type')
    return kind.__name__ if isinstance(kind, type) else str(kind).split('.')[-1]
