"""Running an mmengine Runner with a clean end, and training (``tools/train.py``)."""
from typing import Any, Optional, Tuple

from mmengine.config import Config

__all__ = ['run_runner', 'train_config', 'train']

#: what :func:`run_runner` can run
ACTIONS = ('train', 'val', 'test')


def run_runner(cfg: Config, action: str) -> Tuple[Any, Any]:
    """Build a Runner from ``cfg`` and run ``action`` (``'train'`` / ``'val'`` / ``'test'``) with a clean end;
    returns ``(runner, result)``.

    On success the launcher's process group is torn down after a barrier (otherwise gloo's threads can abort the
    interpreter at exit, "terminate called without an active exception", after the results were written). On an
    error -- while building (a refused weights file) or running -- the loggers, message hubs and visualizers the
    Runner registered are released and their log files closed, so a later run in the same process (a notebook, the
    tests) neither leaks them nor logs into this run's files."""
    import torch.distributed as dist
    from mmengine.logging import MMLogger
    from mmengine.runner import Runner

    from ..engine import release_instances
    if action not in ACTIONS:
        raise ValueError(f'action must be one of {ACTIONS}, got {action!r}')
    before = set(MMLogger._instance_dict)
    try:
        runner = Runner.from_cfg(cfg)
        result = runner.train() if action == 'train' else runner.val() if action == 'val' else runner.test()
    except BaseException:
        release_instances([name for name in list(MMLogger._instance_dict) if name not in before])
        raise
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return runner, result


def train_config(config: str, work_dir: Optional[str] = None, resume: Optional[str] = None,
                 cache_dir: Optional[str] = None, cfg_options: Optional[dict] = None, launcher: str = 'none') -> Config:
    """The config :func:`train` runs: :func:`~mmood.apis.load_runner_config` plus the resume setting (``'auto'``:
    the latest checkpoint of the work dir; a path: that checkpoint; None: a fresh run)."""
    from .config import load_runner_config
    cfg = load_runner_config(config, cfg_options, launcher, work_dir, cache_dir)
    if resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif resume is not None:
        cfg.resume, cfg.load_from = True, resume
    return cfg


def train(config: str, work_dir: Optional[str] = None, resume: Optional[str] = None, cache_dir: Optional[str] = None,
          cfg_options: Optional[dict] = None, launcher: str = 'none'):
    """Train the model of ``config`` (MMPretrain's ``tools/train.py``, plus the cache folder and a CPU-capable
    backend); returns the Runner after training.

    Args:
        config: the config file.
        work_dir: logs and checkpoints (default: the config's, else ``./work_dirs/<config name>``).
        resume: ``'auto'`` (the latest checkpoint in the work dir), a checkpoint path, or None.
        cache_dir: the shared cache folder (default: :func:`~mmood.apis.resolve_cache_dir`).
        cfg_options: config overrides (every key must exist).
        launcher: ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
    """
    return run_runner(train_config(config, work_dir, resume, cache_dir, cfg_options, launcher), 'train')[0]
