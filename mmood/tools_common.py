"""Defaults the CLI layer (``tools/``) resolves before building a Runner.

Library modules read no environment variables; this module is where the tools turn the user's environment
(cache folder, CPU-only machine) into explicit config values.
"""
import torch
from mmengine.config import Config

from .cache import default_cache_dir


def apply_common_options(cfg: Config, cache_dir: str = None) -> Config:
    """Fill in the shared cache directory and a CPU-capable distributed backend.

    * ``model.cache_dir``: ``cache_dir`` if given, else the config's value, else the user's cache folder.
    * Without CUDA, ``env_cfg.dist_cfg.backend`` becomes ``gloo`` (nccl needs GPUs).
    """
    if 'model' in cfg and 'cache_dir' in cfg.model:
        if cache_dir is not None:
            cfg.model.cache_dir = cache_dir
        elif cfg.model.cache_dir is None:
            cfg.model.cache_dir = default_cache_dir()
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
    import os
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_cli_config(args) -> Config:
    """Config from ``args.config`` with --cfg-options, the launcher, and the work dir
    (``--work-dir``, else the config's, else ``./work_dirs/<config name>``)."""
    import os.path as osp
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if getattr(args, 'work_dir', None) is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    return cfg
