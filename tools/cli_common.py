"""What the command-line tools share: the user's environment turned into explicit config values.

The library reads no environment variables; this module (beside the scripts, imported by them as
``cli_common``) is where the tools resolve the user's cache folder (``--cache-dir``, ``$MMOOD_CACHE``,
``$XDG_CACHE_HOME/mmood`` or ``~/.cache/mmood``), a CPU-capable distributed backend, the work directory and the
options every runner-building tool takes.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import ast
import functools
import os
import os.path as osp
import sys
from typing import Any, Dict, Optional, Sequence

import torch
from mmengine.config import Config


def guarded(main):
    """Decorator of a tool's ``main(argv)``: an error the user can fix (``mmood.utils.UserError``: a wrong file,
    option, path or checkpoint) is printed as one line, ``error: ...``, and the tool exits with status 2."""
    from mmood.utils import UserError

    @functools.wraps(main)
    def wrapper(argv=None):
        try:
            return main(argv)
        except UserError as err:
            print(f'error: {err}', file=sys.stderr)
            raise SystemExit(2) from None

    return wrapper


def run_runner(cfg: Config, action: str):
    """Build a Runner from ``cfg`` and run ``action`` (``'train'`` / ``'test'``) with a clean end; returns
    ``(runner, result)``.

    On success the launcher's process group is torn down after a barrier (otherwise gloo's threads can abort the
    interpreter at exit, "terminate called without an active exception", after the results were written). On an
    error -- while building (a refused weights file) or running -- the loggers, message hubs and visualizers the
    Runner registered are released and their log files closed, so a later run in the same process (a notebook, the
    tests) neither leaks them nor logs into this run's files."""
    import torch.distributed as dist
    from mmengine.logging import MMLogger
    from mmengine.runner import Runner
    from mmood.engine import release_instances
    before = set(MMLogger._instance_dict)
    try:
        runner = Runner.from_cfg(cfg)
        result = getattr(runner, action)()
    except BaseException:
        release_instances([name for name in list(MMLogger._instance_dict) if name not in before])
        raise
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return runner, result


def default_cache_dir() -> str:
    """The user's cache folder for mmood: ``$MMOOD_CACHE`` or ``$XDG_CACHE_HOME/mmood`` or ``~/.cache/mmood``."""
    if os.environ.get('MMOOD_CACHE'):
        return os.environ['MMOOD_CACHE']
    base = os.environ.get('XDG_CACHE_HOME') or osp.join(osp.expanduser('~'), '.cache')
    return osp.join(base, 'mmood')


def apply_common_options(cfg: Config, cache_dir: Optional[str] = None) -> Config:
    """Fill in the shared cache directory and a CPU-capable distributed backend.

    * ``model.cache_dir``: ``cache_dir`` if given, else the config's value, else the user's cache folder; the
      same folder is also written to ``cfg.cache_dir`` (what the feature tools read), and to the ``cache_dir`` of a
      dataloader's dataset that declares it as None (a dataset with a cached index, e.g. ``ImageCaptionDataset``).
    * Without CUDA, ``env_cfg.dist_cfg.backend`` becomes ``gloo`` (nccl needs GPUs).
    """
    if 'model' in cfg and 'cache_dir' in cfg.model:
        if cache_dir is not None:
            cfg.model.cache_dir = cache_dir
        elif cfg.model.cache_dir is None:
            cfg.model.cache_dir = default_cache_dir()
    cfg.cache_dir = cache_dir or (cfg.model.get('cache_dir') if 'model' in cfg else None) or default_cache_dir()
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset') or {}
        if 'cache_dir' in dataset and dataset['cache_dir'] is None:  # datasets with cached indexes (image-caption)
            dataset['cache_dir'] = cfg.cache_dir
    if not torch.cuda.is_available():
        cfg.setdefault('env_cfg', {})
        cfg.env_cfg.setdefault('dist_cfg', {})
        cfg.env_cfg.dist_cfg['backend'] = 'gloo'
    return cfg


def add_common_arguments(parser, cache_help: str = 'shared cache for text embeddings, negatives and features '
                         '(default: $MMOOD_CACHE or ~/.cache/mmood)'):
    """The options every runner-building tool takes: --cache-dir, --cfg-options, --launcher, --local_rank."""
    from mmengine.config import DictAction
    parser.add_argument('--cache-dir', help=cache_help)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.head.ngroup=10')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_common(parser, argv=None):
    """Parse, and export LOCAL_RANK for launchers that pass --local_rank instead of setting it."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def read_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` with ``--cfg-options`` merged after checking every key exists
    (:func:`mmood.utils.check_cfg_options`); a missing file is one clear error. The config text the Runner logs
    and dumps is not reformatted by yapf (seconds per call on long paths)."""
    from mmood.utils import ConfigError, check_cfg_options
    if not osp.isfile(path):
        raise ConfigError(f'Config file not found: {path} (the configs are under configs/, e.g. '
                          f'configs/mcm_vitb16.py)')
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


def load_cli_config(args) -> Config:
    """Config from ``args.config`` with --cfg-options, the launcher, and the work dir
    (``--work-dir``, else the config's, else ``./work_dirs/<config name>``)."""
    cfg = read_config(args.config, args.cfg_options)
    cfg.launcher = args.launcher
    return set_work_dir(cfg, args)


def set_work_dir(cfg: Config, args) -> Config:
    """``cfg.work_dir``: ``--work-dir``, else the config's, else ``./work_dirs/<config name>``."""
    if getattr(args, 'work_dir', None) is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg


def load_config(config: str, cfg_options: Optional[dict] = None, cache_dir: Optional[str] = None) -> Config:
    """A config for the runner-less tools (``score.py``, ``extract_features.py``): --cfg-options, the cache folder
    (``cfg.cache_dir`` and ``cfg.model.cache_dir``), the CPU backend, and mmpretrain's default scope."""
    from mmengine.registry import init_default_scope
    cfg = read_config(config, cfg_options)
    apply_common_options(cfg, cache_dir=cache_dir)
    if cfg.model.get('cache_dir') is None:
        cfg.model.cache_dir = cfg.cache_dir
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
    """``['knn.k=100', 'energy.temperature=2']`` -> ``{'knn': {'k': 100}, 'energy': {'temperature': 2}}``.

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
