"""The resize and crop geometry of the evaluation pipelines, shared by the CPU loading step and the GPU decoding
preprocessor: mmpretrain's ``ResizeEdge`` sizes, mmcv's ``CenterCrop`` box, and the same resize + crop on tensors."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

__all__ = ['resize_edge_size', 'crop_pair', 'center_crop_box', 'resize_crop_tensor']


def resize_edge_size(scale: int, edge: str, width: int, height: int) -> Tuple[int, int]:
    """The (width, height) mmpretrain's ``ResizeEdge(scale, edge)`` resizes a ``width`` x ``height`` image to."""
    if (edge == 'short' and width < height) or (edge == 'long' and width > height) or edge == 'width':
        return scale, int(scale * height / width)
    return int(scale * width / height), scale


def crop_pair(crop_size: Union[int, Sequence[int], None]) -> Optional[Tuple[int, int]]:
    """``CenterCrop.crop_size`` as mmcv reads it: an int ``c`` is ``(c, c)``, a pair is (width, height); None stays
    None (no crop)."""
    if crop_size is None:
        return None
    return (int(crop_size), int(crop_size)) if isinstance(crop_size, int) else tuple(int(c) for c in crop_size)


def center_crop_box(crop_size: Tuple[int, int], width: int, height: int) -> Tuple[int, int, int, int]:
    """The (left, top, right, bottom) box, right and bottom exclusive, that mmcv's ``CenterCrop(crop_size)``
    (``crop_size`` = (width, height), no ``auto_pad``) cuts from a ``width`` x ``height`` image: a crop larger than
    the image is clipped to it, offsets are rounded as Python's ``round`` does."""
    crop_w, crop_h = min(crop_size[0], width), min(crop_size[1], height)
    top, left = max(0, int(round((height - crop_h) / 2.))), max(0, int(round((width - crop_w) / 2.)))
    return left, top, min(width, left + crop_w), min(height, top + crop_h)


def resize_crop_tensor(img: torch.Tensor, scale: int, edge: str = 'short', interpolation: str = 'bilinear',
                       crop_size: Union[int, Sequence[int], None] = None) -> torch.Tensor:
    """``ResizeEdge`` (+ ``CenterCrop``) of a (C, H, W) uint8 image tensor, or of a (B, C, H, W) batch of images of
    one size, on its own device: torch's antialiased ``interpolate`` rounded to uint8. The sizes and box are the
    pipeline's; the pixels are close to PIL's filters, not equal (docs/performance.md states how far scores move).

    Args:
        img: (C, H, W) or (B, C, H, W) uint8.
        scale: ``ResizeEdge.scale``.
        edge: ``ResizeEdge.edge``.
        interpolation: ``'bilinear'`` or ``'bicubic'`` (antialiased), or ``'nearest'``.
        crop_size: ``CenterCrop.crop_size`` (an int or (width, height)), or None for no crop.

    Returns:
        The (C, h, w) or (B, C, h, w) uint8 tensor.
    """
    if interpolation not in ('bilinear', 'bicubic', 'nearest'):
        raise ValueError(f'resize_crop_tensor: interpolation {interpolation!r} is not bilinear, bicubic or nearest')
    if img.ndim not in (3, 4):
        raise ValueError(f'resize_crop_tensor: expected a (C, H, W) image or a (B, C, H, W) batch, got shape '
                         f'{tuple(img.shape)}')
    height, width = int(img.shape[-2]), int(img.shape[-1])
    new_w, new_h = resize_edge_size(int(scale), edge, width, height)
    x = (img.unsqueeze(0) if img.ndim == 3 else img).float()
    if interpolation == 'nearest':
        x = F.interpolate(x, size=(new_h, new_w), mode='nearest')
    else:
        x = F.interpolate(x, size=(new_h, new_w), mode=interpolation, align_corners=False, antialias=True)
    out = x.round_().clamp_(0, 255).to(torch.uint8)
    out = out[0] if img.ndim == 3 else out
    crop = crop_pair(crop_size)
    if crop is not None:
        left, top, right, bottom = center_crop_box(crop, new_w, new_h)
        out = out[..., top:bottom, left:right]
    return out.contiguous()
