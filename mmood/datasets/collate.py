"""Batch collation for image data loaders: samples' images stacked where the loading worker made them.

mmengine's ``pseudo_collate`` keeps a batch's images as a list of (C, H, W) tensors. With loading workers every one
of them then crosses to the main process as its own shared-memory tensor, and mmpretrain's
``ClsDataPreprocessor`` normalises them one by one before stacking: per-image costs a bare loop does not pay.
:func:`stack_collate` stacks the images in the worker (into shared memory, as torch's ``default_collate`` does),
so the batch crosses as one tensor and the preprocessor takes its batched branch. The normalised batch is the same,
bit for bit: the preprocessor's steps (channel flip, ``float()``, ``(x - mean) / std``) are elementwise.
"""
from typing import Any, Sequence

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from torch.utils.data import default_collate

__all__ = ['stack_collate']


@FUNCTIONS.register_module()
def stack_collate(data_batch: Sequence[Any]) -> Any:
    """mmengine's ``pseudo_collate`` with the samples' ``inputs`` stacked into one (B, C, H, W) tensor when they
    are tensors of one shape and dtype (a centre-cropped pipeline); otherwise exactly ``pseudo_collate``.

    Args:
        data_batch: the samples (dicts with ``inputs`` and ``data_samples``, as ``PackInputs`` makes them).

    Returns:
        ``dict(inputs=<(B, ...) tensor>, data_samples=[...], ...)``, or ``pseudo_collate(data_batch)``.
    """
    if not data_batch or not all(isinstance(d, dict) and isinstance(d.get('inputs'), torch.Tensor)
                                 for d in data_batch):
        return pseudo_collate(data_batch)
    first = data_batch[0]['inputs']
    if any(d['inputs'].shape != first.shape or d['inputs'].dtype != first.dtype for d in data_batch):
        return pseudo_collate(data_batch)
    out = pseudo_collate([{k: v for k, v in d.items() if k != 'inputs'} for d in data_batch])
    out['inputs'] = default_collate([d['inputs'] for d in data_batch])  # in a worker: straight into shared memory
    return out
