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
