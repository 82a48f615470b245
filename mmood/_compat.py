"""Compatibility shims for the pinned stack; imported first by :mod:`mmood`.

Every workaround mmood needs lives here, and each one applies only when its condition holds:

* :func:`ensure_torchvision_importable` -- a CUDA build of torchvision next to a CPU torch cannot load its
  ``_C`` extension; torchvision then fails at import with ``operator torchvision::nms does not exist``. When
  the extension is unusable we declare the ``nms``/``qnms`` schemas so the import (and with it open_clip, timm
  and ``mmpretrain.datasets``) succeeds. The C++ ops themselves stay unavailable. No-op when the ops exist.
* :func:`patch_checkpoint_loading` -- mmengine 0.10.x calls ``torch.load`` without ``weights_only``; torch >= 2.6
  defaults to ``True`` and refuses mmengine's own checkpoints (message hub, numpy arrays). Local files are
  re-registered with :func:`mmood.utils.load_checkpoint_file`: still ``weights_only=True``, with exactly mmengine's
  bookkeeping objects allowed (anything else is refused, naming it). No-op on torch < 2.6.
* :func:`patch_cpu_distributed` -- mmengine calls ``torch.cuda.set_device`` unconditionally (its pytorch and slurm
  launchers) and passes ``device_ids`` to DDP for CPU modules; both fail without CUDA. No-op when CUDA is available.
* :func:`patch_numpy` -- ``np.in1d`` (used by mmpretrain's retrieval metrics) was removed in numpy 2.4.
* :func:`memoise_config_formatting` -- mmengine formats a config with yapf every time it prints or dumps it, four
  times per ``runner.test()`` (the log, the work_dir copy, the visualizer's copy...), about 0.05 s each on 2 CPU
  cores. yapf's ``FormatCode`` is a pure function of the text and the style, so mmengine's calls are memoised
  (the last 8 texts); the formatted text is the same. Speed only: applies with every mmengine version that
  imports ``FormatCode`` into ``mmengine.config.config``.
* :func:`skip_epoch_sleep_without_workers` -- mmengine's iteration-based training loop restarts a finite data loader
  at every epoch end with a 2-second ``time.sleep`` against a deadlock of worker processes; a loader without workers
  (the cached-feature training loops, the tests' tiny runs) has none to wait for, and on a tiny epoch the sleep is
  most of the run (a 3-batch epoch: 2 s of sleep for ~0.01 s of work). The restart (epoch counter, ``set_epoch``,
  a new iterator, mmengine's one warning) is unchanged; loaders with workers keep the sleep.
* :func:`quiet_known_warnings` -- mmcv-lite warns on every import that ``MultiScaleDeformableAttention`` (an op of
  the full mmcv, which mmood never uses) is missing; the warning is filtered so that real warnings stand out.

The shims are idempotent: importing mmood again, or in spawned workers, changes nothing.
"""
import glob
import importlib.util
import os.path as osp
import sys

import numpy as np
import torch

_TV_LIBRARY = None
APPLIED = {}


def _torchvision_op_exists(name: str) -> bool:
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def ensure_torchvision_importable() -> bool:
    """Declare ``torchvision::nms``/``qnms`` when torchvision's ``_C`` extension cannot load.

    Returns:
        bool: True if the shim declared the ops (i.e. it was needed).
    """
    global _TV_LIBRARY
    if _TV_LIBRARY is not None:
        return True
    if 'torchvision' in sys.modules:
        return False
    spec = importlib.util.find_spec('torchvision')
    if spec is None or spec.origin is None:
        return False
    for lib in glob.glob(osp.join(osp.dirname(spec.origin), '_C*.so')):
        try:
            torch.ops.load_library(lib)
        except (OSError, ImportError, RuntimeError):
            pass
    missing = [n for n in ('nms', 'qnms') if not _torchvision_op_exists(n)]
    if not missing:
        return False
    _TV_LIBRARY = torch.library.Library('torchvision', 'FRAGMENT')
    for name in missing:
        _TV_LIBRARY.define(f'{name}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    return True


def _torch_defaults_to_weights_only() -> bool:
    version = tuple(int(p) for p in torch.__version__.split('+')[0].split('.')[:2])
    return version >= (2, 6)


def patch_checkpoint_loading() -> bool:
    """Let mmengine load its own local checkpoints on torch >= 2.6.

    Returns:
        bool: True if the local-file loader was replaced.
    """
    if not _torch_defaults_to_weights_only():
        return False
    from mmengine.runner.checkpoint import CheckpointLoader

    # mmengine logs the loader's name; it must start with ``load_from_``.
    def load_from_local(filename, map_location):
        from .utils.checkpoint import load_checkpoint_file  # weights_only=True, mmengine bookkeeping allowed
        return load_checkpoint_file(filename, map_location)

    load_from_local._mmood_patched = True
    current = CheckpointLoader._schemes.get('')
    if not getattr(current, '_mmood_patched', False):
        CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)
    return True


def patch_cpu_distributed() -> bool:
    """Make mmengine's ``launcher='pytorch'`` and ``launcher='slurm'`` work on CPU (gloo).

    Returns:
        bool: True if the patches are active (no CUDA).
    """
    if torch.cuda.is_available():
        return False
    if not getattr(torch.cuda.set_device, '_mmood_patched', False):
        original_set_device = torch.cuda.set_device

        def set_device(device):
            if torch.cuda.is_available():
                return original_set_device(device)
            return None

        set_device._mmood_patched = True
        torch.cuda.set_device = set_device

    from mmengine.model.wrappers import MMDistributedDataParallel
    if not getattr(MMDistributedDataParallel.__init__, '_mmood_patched', False):
        original_init = MMDistributedDataParallel.__init__

        def __init__(self, module, detect_anomalous_params=False, **kwargs):
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
            original_init(self, module=module, detect_anomalous_params=detect_anomalous_params, **kwargs)

        __init__._mmood_patched = True
        MMDistributedDataParallel.__init__ = __init__
    return True


def patch_numpy() -> bool:
    """Alias ``np.in1d`` to ``np.isin`` where numpy removed it (>= 2.4).

    Returns:
        bool: True if the alias was added.
    """
    if hasattr(np, 'in1d'):
        return False

    def in1d(ar1, ar2, assume_unique=False, invert=False, **kwargs):
        return np.isin(np.ravel(ar1), ar2, assume_unique=assume_unique, invert=invert, **kwargs)

    np.in1d = in1d
    return True


def memoise_config_formatting() -> bool:
    """Memoise mmengine's yapf formatting of configs (``mmengine.config.config.FormatCode``).

    Returns:
        bool: True if mmengine's ``FormatCode`` is the memoised one.
    """
    import functools
    try:
        from mmengine.config import config as config_module
    except ImportError:
        return False
    format_code = getattr(config_module, 'FormatCode', None)
    if format_code is None:
        return False
    if getattr(format_code, '_mmood_patched', False):
        return True

    @functools.lru_cache(maxsize=8)
    def formatted(text, style):
        return format_code(text, style_config=dict(style))

    @functools.wraps(format_code)
    def memoised(text, style_config=None, **kwargs):
        style = None
        if not kwargs and isinstance(text, str) and isinstance(style_config, dict):
            try:
                style = tuple(sorted(style_config.items()))
                hash(style)
            except TypeError:  # unorderable or unhashable style values: not memoised
                style = None
        if style is None:
            return format_code(text, style_config=style_config, **kwargs)
        return formatted(text, style)

    memoised._mmood_patched = True
    memoised.cache_info = formatted.cache_info
    config_module.FormatCode = memoised
    return True


def skip_epoch_sleep_without_workers() -> bool:
    """Restart a worker-less data loader of mmengine's ``IterBasedTrainLoop`` without the 2-s sleep.

    Returns:
        bool: True if mmengine's ``_InfiniteDataloaderIterator`` is the patched one.
    """
    try:
        from mmengine.runner import loops
    except ImportError:
        return False
    cls = getattr(loops, '_InfiniteDataloaderIterator', None)
    if cls is None or not hasattr(loops, 'time'):
        return False
    if getattr(cls.__next__, '_mmood_patched', False):
        return True
    original = cls.__next__

    class _NoSleep:
        """``time`` for one restart: ``sleep`` does nothing, the rest is the module's."""

        def __getattr__(self, name):
            import time
            return getattr(time, name)

        @staticmethod
        def sleep(seconds):
            return None

    def __next__(self):
        if getattr(self._dataloader, 'num_workers', 1):
            return original(self)
        try:  # the common case costs one ``next``; only the restart goes through mmengine's code, without the sleep
            return next(self._iterator)
        except StopIteration:
            pass
        import time
        loops.time = _NoSleep()
        try:
            return original(self)  # its ``next`` on the exhausted single-process iterator stops again: restart
        finally:
            loops.time = time

    __next__._mmood_patched = True
    cls.__next__ = __next__
    return True


def quiet_known_warnings() -> bool:
    """Filter mmcv-lite's harmless ``MultiScaleDeformableAttention`` import warning (mmood needs no mmcv ops)."""
    import warnings
    warnings.filterwarnings('ignore', message='.*MultiScaleDeformableAttention.*', category=UserWarning)
    return True


def apply_all() -> dict:
    """Apply every shim once; returns which ones were active."""
    APPLIED['warnings'] = quiet_known_warnings()
    APPLIED['torchvision'] = ensure_torchvision_importable()
    APPLIED['checkpoint'] = patch_checkpoint_loading()
    APPLIED['cpu_distributed'] = patch_cpu_distributed()
    APPLIED['numpy_in1d'] = patch_numpy()
    APPLIED['config_formatting'] = memoise_config_formatting()
    APPLIED['epoch_sleep'] = skip_epoch_sleep_without_workers()
    return dict(APPLIED)


apply_all()
