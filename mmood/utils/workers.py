"""Data-loader defaults that use the machine: ``num_workers='auto'`` and friends.

Configs cannot compute the CPU count (mmengine refuses imports in ordinary config files), so they say
``num_workers='auto'`` and the loops that build image data loaders resolve it here (``OODTestLoop``, the feature
extraction of the cached-feature loops, ``tools/extract_features.py``). The batch size is never changed: re-scoring
equality and batch-level scores depend on it.
"""
import os
from typing import Any, Dict

import torch

from .errors import ConfigError

__all__ = ['AUTO_WORKERS_CAP', 'resolve_workers', 'loader_defaults']

#: at most this many loading workers for ``'auto'`` (decode-bound loops gain little beyond it)
AUTO_WORKERS_CAP = 16


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on (containers, taskset)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_workers(value: Any) -> int:
    """``'auto'`` -> ``min(AUTO_WORKERS_CAP, usable CPUs)``; an integer >= 0 as it is."""
    if value == 'auto':
        return min(AUTO_WORKERS_CAP, _usable_cpus())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f'num_workers must be a non-negative integer or "auto", got {value!r}')
    return value


def loader_defaults(dataloader: Dict[str, Any]) -> Dict[str, Any]:
    """A dataloader config with ``num_workers`` resolved, ``pin_memory`` on when CUDA is available and images
    stacked in the loading workers (``collate_fn`` :func:`~mmood.datasets.stack_collate`) -- each only where the
    config does not set it.

    ``persistent_workers`` is not turned on: these loaders make one pass, and persistent workers only keep their
    processes between passes. Kept, they stayed alive after the evaluation until the Runner was garbage-collected,
    and that collection then blocked for about 5 s per worker: the workers were still waiting on their index queues
    when the loader joined them, so each left only on its 5 s poll timeout (measured with 2 workers: 10.1 s).
    """
    out = dict(dataloader)
    out.setdefault('collate_fn', dict(type='stack_collate'))
    out['num_workers'] = resolve_workers(out.get('num_workers', 0))
    if not out['num_workers']:
        out['persistent_workers'] = False  # torch refuses persistent workers without workers
    out.setdefault('pin_memory', torch.cuda.is_available())
    return out
