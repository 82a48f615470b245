"""Per-iteration linear warm-up from exactly 0, then cosine decay: PLP's learning-rate schedule.

Paper: N. Adaloglou, F. Michels, T. Kaiser, M. Kollmann, "Adapting Contrastive Language-Image Pretrained (CLIP)
Models for Out-of-Distribution Detection", TMLR 2024, arXiv:2303.05828 (its linear_probing.py; the DINO-style schedule).

For T scheduled steps, W = int(warmup_ratio · T) warm-up steps, peak η (the optimizer's lr) and floor η_min::

    lr_k = linspace(start, η, W)[k]                                    k < W   (step 0: exactly `start` = 0)
    lr_k = η_min + (η − η_min) · ½ (1 + cos(π (k − W) / (T − W)))     W ≤ k < T (never reaches η_min)

With T = 20 the schedule is 0, 1e-3, 1e-3, 9.92404e-4, …, 7.59612e-6 (tests/test_plp/test_probe.py): two steps at the
peak. mmengine's ``LinearLR`` cannot start from 0 (start_factor > 0), hence this scheduler (PLP-11,
docs/reference_deviations.md). PLP's effective peak is 1e-3 at any batch size: its optimizer builder scales the lr by
bs/256 but the schedule overwrites it from the unscaled value (PLP-1); configs give ``lr=1e-3`` and no
``auto_scale_lr``.
"""
import math
from typing import List

import numpy as np
from mmengine.optim.scheduler.lr_scheduler import LRSchedulerMixin
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmpretrain.registry import PARAM_SCHEDULERS

__all__ = ['warmup_cosine_schedule', 'WarmupCosineParamScheduler', 'WarmupCosineLR']


def _warmup_steps(total: int, warmup_ratio: float, warmup_iters=None) -> int:
    return int(warmup_iters) if warmup_iters is not None else int(warmup_ratio * total)


def _value(step: int, total: int, warmup: int, peak: float, start: float, floor: float) -> float:
    if step < warmup:
        return start if warmup == 1 else start + (peak - start) * step / (warmup - 1)
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / (total - warmup)))


def warmup_cosine_schedule(total: int, peak: float, warmup_ratio: float = 0.1, start: float = 0.0,
                           eta_min: float = 0.0, warmup_iters=None) -> np.ndarray:
    """The whole schedule as an array of ``total`` values (formula in the module docstring).

    Args:
        total: number of steps ``T``.
        peak: peak value ``η``.
        warmup_ratio: ``W = int(warmup_ratio · T)`` unless ``warmup_iters`` is given.
        start: first warm-up value (0 in PLP).
        eta_min: cosine floor (0 in PLP).
        warmup_iters: explicit ``W``.

    Returns:
        (T,) float64 values.
    """
    warmup = _warmup_steps(total, warmup_ratio, warmup_iters)
    if not 0 <= warmup < total:
        raise ValueError(f'warm-up steps must be in [0, {total}), got {warmup}')
    return np.array([_value(k, total, warmup, peak, start, eta_min) for k in range(total)])


@PARAM_SCHEDULERS.register_module()
class WarmupCosineParamScheduler(_ParamScheduler):
    """Linear warm-up from ``start`` over ``W`` steps, then cosine to ``eta_min`` (never reached), in closed form.

    The peak is the parameter's initial value in the optimizer (e.g. ``lr=1e-3``). Step ``k`` counts from
    ``begin``; the schedule spans ``T = end − begin`` steps, so ``end`` is required.

    Args:
        optimizer: the optimizer or optim wrapper.
        param_name: the scheduled parameter (``'lr'``...).
        warmup_ratio: ``W = int(warmup_ratio · T)`` (0.1 in PLP).
        warmup_iters: explicit ``W`` (overrides ``warmup_ratio``).
        start: first warm-up value (0 in PLP).
        eta_min: cosine floor (0 in PLP).
        begin: first step of the schedule.
        end: step after the last (``T = end − begin``).
        last_step: for resuming.
        by_epoch: step per epoch (False: per iteration, as PLP).
        verbose: print every value.
    """

    def __init__(self, optimizer, param_name: str, warmup_ratio: float = 0.1, warmup_iters=None, start: float = 0.0,
                 eta_min: float = 0.0, begin: int = 0, end: int = INF, last_step: int = -1, by_epoch: bool = False,
                 verbose: bool = False):
        if end == INF:
            raise ValueError('WarmupCosine schedulers need `end` (the total number of steps, e.g. max_iters)')
        self.total = int(end - begin)
        self.warmup = _warmup_steps(self.total, warmup_ratio, warmup_iters)
        if not 0 <= self.warmup < self.total:
            raise ValueError(f'warm-up steps must be in [0, {self.total}), got {self.warmup}')
        self.start = float(start)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, param_name, begin=begin, end=end, last_step=last_step, by_epoch=by_epoch,
                         verbose=verbose)

    def _get_value(self) -> List[float]:
        return [_value(self.last_step, self.total, self.warmup, base, self.start, self.eta_min)
                for base in self.base_values]


@PARAM_SCHEDULERS.register_module()
class WarmupCosineLR(LRSchedulerMixin, WarmupCosineParamScheduler):
    """:class:`WarmupCosineParamScheduler` for the learning rate (PLP's schedule with ``warmup_ratio=0.1``)."""
