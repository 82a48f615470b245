"""GPU JPEG decoding as a named, off-by-default option: decode, resize and crop a batch on the GPU.

With a ViT-B/16 in fp16 a GPU encodes thousands of images per second and the CPU's JPEG decoding sets the pace.
``GPUDecodeDataPreprocessor`` takes what :class:`~mmood.datasets.LoadEncodedImage` loads -- plain JPEGs still
encoded (1-D uint8 tensors), other images decoded on the CPU -- decodes the JPEGs in one batched
``torchvision.io.decode_jpeg(..., device='cuda')`` call (nvJPEG), resizes and crops every image with the test
pipeline's geometry (:func:`~mmood.utils.resize_crop_tensor`: the same sizes and box, torch's antialiased filter
instead of PIL's), then normalises like mmpretrain's ``ClsDataPreprocessor``. The pixels are close to the exact
pipeline's, not equal: docs/performance.md gives the measured score deviation. Select it in a config with::

    test_pipeline = [dict(type='LoadEncodedImage'),
                     dict(type='PackInputs', meta_keys=('sample_idx', 'img_path', 'set_id', 'is_ood'))]
    model = dict(data_preprocessor=dict(type='GPUDecodeDataPreprocessor', scale=224, edge='short',
                                        interpolation='bilinear', crop_size=224, mean=CLIP_MEAN, std=CLIP_STD,
                                        to_rgb=True))

(``configs/_base_/gpu_decode.py`` holds both as variables for the ImageNet configs; its comment shows the three
lines of a config that uses them). It needs CUDA and a torchvision whose ``torchvision.io`` imports; without them,
building it raises an error saying which is missing.

Decoding is the reference implementations' ``Image.open(path).convert('RGB')``: nvJPEG ignores EXIF orientation and
:class:`~mmood.datasets.LoadEncodedImage` decodes every other image with that default; its ``exif_orientation``,
``alpha`` and ``bit_depth`` options are :class:`~mmood.datasets.LoadOODImage`'s (``exif_orientation=True`` keeps
EXIF-rotated JPEGs off the GPU and rotates them on the CPU). docs/decoding.md describes both paths.
"""
from typing import Callable, Sequence, Union

import torch
from mmpretrain.models.utils.data_preprocessor import ClsDataPreprocessor
from mmpretrain.registry import MODELS

from ...utils.geometry import resize_crop_tensor

__all__ = ['GPUDecodeDataPreprocessor', 'jpeg_decoder', 'pil_jpeg_decoder']


def pil_jpeg_decoder(encoded):
    """nvJPEG's CPU stand-in (``decoder='pil'``): libjpeg through PIL's ``convert('RGB')`` (EXIF orientation ignored,
    as nvJPEG), (3, H, W) RGB uint8 tensors. The GPU path's geometry and plumbing run with it on any machine (tests,
    the benchmark's deviation); not its speed."""
    import io

    import numpy as np
    from PIL import Image
    return [torch.from_numpy(np.asarray(Image.open(io.BytesIO(e.cpu().numpy().tobytes())).convert('RGB')).copy())
            .permute(2, 0, 1) for e in encoded]


def jpeg_decoder(device: Union[str, torch.device] = 'cuda') -> Callable:
    """``decode(list of 1-D uint8 tensors) -> list of (3, H, W) uint8 RGB tensors on ``device```` with torchvision's
    batched JPEG decoder.

    Raises:
        RuntimeError: ``torchvision.io`` does not import (e.g. the CPU-only stack, whose torchvision build does not
            match torch) or CUDA is unavailable -- the message says which.
    """
    try:
        from torchvision.io import ImageReadMode, decode_jpeg
    except Exception as err:  # a torchvision built for another torch fails with RuntimeError, not ImportError
        raise RuntimeError(f'GPU JPEG decoding needs torchvision.io.decode_jpeg, which does not import here '
                           f'({type(err).__name__}: {err}); install the torchvision build that matches torch '
                           f'{torch.__version__}, or keep the default CPU decoding') from err
    if torch.device(device).type != 'cuda' or not torch.cuda.is_available():
        raise RuntimeError(f'GPU JPEG decoding needs a CUDA device (asked for {device!r}, CUDA available: '
                           f'{torch.cuda.is_available()}); keep the default CPU decoding on this machine')

    def decode(encoded):
        return decode_jpeg([e.cpu() for e in encoded], mode=ImageReadMode.RGB, device=device)

    return decode


@MODELS.register_module()
class GPUDecodeDataPreprocessor(ClsDataPreprocessor):
    """``ClsDataPreprocessor`` that decodes (nvJPEG), resizes and crops a batch on the GPU (module docstring).

    Args:
        scale: ``ResizeEdge.scale`` of the test pipeline it replaces.
        edge: ``ResizeEdge.edge``.
        interpolation: ``'bilinear'`` or ``'bicubic'`` (antialiased) or ``'nearest'``.
        crop_size: ``CenterCrop.crop_size`` (an int or (width, height)), or None.
        decoder: None (torchvision's nvJPEG on CUDA), ``'pil'`` (:func:`pil_jpeg_decoder`, an emulation on the
            CPU), or a ``decode(list of encoded tensors) -> list of RGB tensors``.
        **kwargs: ``ClsDataPreprocessor``'s (``mean``, ``std``, ``to_rgb``...).
    """

    def __init__(self, scale: int, edge: str = 'short', interpolation: str = 'bilinear',
                 crop_size: Union[int, Sequence[int], None] = None, decoder: Union[str, Callable, None] = None,
                 **kwargs):
        super().__init__(**kwargs)
        self.scale, self.edge, self.interpolation, self.crop_size = int(scale), edge, interpolation, crop_size
        if decoder is not None and not callable(decoder) and decoder != 'pil':
            raise ValueError(f"GPUDecodeDataPreprocessor: decoder must be None (nvJPEG), 'pil' or callable, got "
                             f'{decoder!r}')
        self.decoder = pil_jpeg_decoder if decoder == 'pil' else decoder if decoder is not None else jpeg_decoder()

    def forward(self, data: dict, training: bool = False) -> dict:
        """Decode the batch's JPEGs, resize and crop every image, normalise.

        ``data['inputs']`` is a list of 1-D uint8 tensors (encoded JPEGs) and (3, H, W) uint8 BGR tensors (decoded
        on the CPU), as mmengine's ``pseudo_collate`` gives them, or one tensor, as ``stack_collate`` gives a batch
        whose items have one shape: (B, N) -- encoded JPEGs of one byte length, e.g. a batch of one JPEG -- or
        (B, 3, H, W), decoded images of one size, resized and cropped together.
        """
        inputs = data['inputs']
        if isinstance(inputs, torch.Tensor):
            if inputs.ndim == 4:
                inputs = resize_crop_tensor(inputs.to(self.device, non_blocking=True), self.scale, self.edge,
                                            self.interpolation, self.crop_size)
                return super().forward(dict(data, inputs=inputs), training)
            if inputs.ndim != 2:
                raise ValueError(f'GPUDecodeDataPreprocessor: a stacked batch is (B, N) encoded JPEGs or (B, 3, H, W) '
                                 f'decoded images, got shape {tuple(inputs.shape)}')
            inputs = inputs.unbind(0)
        inputs = list(inputs)
        encoded = [i for i, x in enumerate(inputs) if x.ndim == 1]
        if encoded:
            for i, rgb in zip(encoded, self.decoder([inputs[i] for i in encoded])):
                inputs[i] = rgb.flip(0)  # BGR, as the CPU-decoded images of the batch (to_rgb flips them all)
        inputs = [resize_crop_tensor(x.to(self.device, non_blocking=True), self.scale, self.edge, self.interpolation,
                                     self.crop_size) for x in inputs]
        return super().forward(dict(data, inputs=inputs), training)
