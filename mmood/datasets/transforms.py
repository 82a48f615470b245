"""Image loading that never decodes a valid image into wrong pixels.

:class:`LoadOODImage` is mmcv's ``LoadImageFromFile`` with one difference: images of more than 8 bits per channel
(16-bit PNG or TIFF, 32-bit integer or float images) are scaled to 8 bits by value. PIL's ``convert('RGB')``, which
mmcv's pillow backend applies, saturates them instead: a 16-bit grayscale PNG decodes almost white. Every other
image -- 8-bit RGB, grayscale, palette, CMYK, with or without alpha and EXIF orientation -- goes through the same
operations as mmcv's pillow path and gives the same pixels, bit for bit.

Images that are not files (members of webdataset tar shards, :class:`~mmood.datasets.ImageCaptionDataset`) come
as encoded bytes in ``results['img_bytes']``; :class:`LoadOODImage` decodes them with the same code as files
(:func:`decode_image`).
"""
import io
from typing import Any, BinaryIO, List, Optional, Tuple, Union

import cv2
import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmengine import fileio
from mmpretrain.datasets.transforms import PackInputs
from mmpretrain.registry import TRANSFORMS
from PIL import Image, ImageOps, UnidentifiedImageError

from ..utils.geometry import center_crop_box, crop_pair, resize_edge_size

__all__ = ['LoadOODImage', 'LoadEncodedImage', 'PillowLoadResizeEdge', 'FastPackInputs', 'fuse_pipeline',
           'describe_pipeline', 'to_8bit', 'pil_to_rgb', 'pil_to_bgr', 'decode_image', 'open_image',
           'unreadable_images']

#: PIL modes holding more than 8 bits per sample
_WIDE_MODES = ('I;16', 'I;16B', 'I;16L', 'I;16N', 'I', 'F')
#: EXIF orientations that move pixels (1 and a missing tag leave the image as it is)
_ORIENTATIONS = (2, 3, 4, 5, 6, 7, 8)


def to_8bit(img: Image.Image) -> Image.Image:
    """An 8-bit ``L`` image of a wide grayscale one (16-bit: ``round(v / 257)``, so ``v8 * 257`` maps back to
    ``v8`` exactly; 32-bit integers as 16-bit when they fit, else scaled by their maximum; float in [0, 1] x 255,
    else clipped to [0, 255]); other images unchanged."""
    if img.mode not in _WIDE_MODES:
        return img
    arr = np.asarray(img)
    if img.mode == 'F':
        arr = arr.astype(np.float64)
        scaled = arr * 255.0 if np.nanmax(arr) <= 1.0 else arr
    else:
        arr = arr.astype(np.int64)
        top = int(arr.max()) if arr.size else 0
        scaled = arr / 257.0 if top <= 65535 else arr * (255.0 / top)
    return Image.fromarray(np.clip(np.rint(np.nan_to_num(scaled)), 0, 255).astype(np.uint8), mode='L')


def pil_to_rgb(img: Image.Image) -> Image.Image:
    """A colour image as mmcv's pillow backend sees it before its numpy conversion: EXIF orientation applied, wide
    images scaled to 8 bits, RGB (an ``LA`` image over mmcv's canvas colour)."""
    img.load()  # as exif_transpose does first (a PNG's EXIF chunk may follow its pixels)
    if img.getexif().get(0x0112, 1) in _ORIENTATIONS:  # else exif_transpose returns a copy of the same pixels
        img = ImageOps.exif_transpose(img)
    img = to_8bit(img)
    if img.mode != 'RGB':
        if img.mode != 'LA':
            img = img.convert('RGB')
        else:
            rgba = img.convert('RGBA')
            img = Image.new('RGB', rgba.size, (124, 117, 104))
            img.paste(rgba, mask=rgba.split()[3])
    return img


def rgb_to_bgr(img: Image.Image) -> np.ndarray:
    """The (H, W, 3) uint8 BGR array of an RGB image, contiguous.

    OpenCV's channel swap takes 0.02 ms for 400x300; the reversed-stride view ``[:, :, ::-1]`` cost every later
    consumer a slow strided copy (1-4 ms per image, e.g. PIL's ``fromarray`` in a pillow resize). Same pixels.
    """
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def pil_to_bgr(img: Image.Image) -> np.ndarray:
    """A colour image as mmcv's pillow backend gives it: :func:`pil_to_rgb`, channels reversed to BGR."""
    return rgb_to_bgr(pil_to_rgb(img))


@TRANSFORMS.register_module()
class LoadOODImage(LoadImageFromFile):
    """``LoadImageFromFile`` (pillow decoding by default) with wide images scaled to 8 bits (module docstring).

    The encoded image comes from ``results['img_bytes']`` when the dataset put it there (tar shards), else from the
    file ``results['img_path']``.

    Args:
        imdecode_backend: ``'pillow'`` (default, the reference methods' decoder) or any mmcv backend (``'cv2'``
            scales 16-bit images itself).
        draft: decode JPEGs at a reduced DCT scale that still covers the following pillow ``ResizeEdge``'s target
            (PIL's draft mode; only with that resize, see :func:`fuse_pipeline`): faster, not the same pixels.
        **kwargs: as mmcv's ``LoadImageFromFile``.
    """

    def __init__(self, imdecode_backend: str = 'pillow', draft: bool = False, **kwargs):
        super().__init__(imdecode_backend=imdecode_backend, **kwargs)
        self.draft = bool(draft)

    def transform(self, results: dict) -> dict:
        """Decode ``results['img_bytes']`` (removed from the results) when present, else the file
        ``results['img_path']``; raises on bytes or files that cannot be decoded."""
        if self.draft:
            raise ValueError('LoadOODImage(draft=True) runs fused with the pillow ResizeEdge after it, in datasets '
                             'that fuse their pipeline (OODEvalDataset: mmood.datasets.fuse_pipeline)')
        content = results.pop('img_bytes', None)
        if content is None and (self.imdecode_backend != 'pillow' or self.color_type != 'color'):
            return super().transform(results)
        if content is None:
            content = fileio.get(results['img_path'], backend_args=self.backend_args)
        if self.imdecode_backend == 'pillow' and self.color_type == 'color':
            array = decode_image(content)
        else:
            array = mmcv.imfrombytes(content, flag=self.color_type, backend=self.imdecode_backend)
            if array is None:
                raise OSError(f'cannot decode image {results.get("img_path", "")} ({len(content)} bytes)')
        if self.to_float32:
            array = array.astype(np.float32)
        results['img'] = array
        results['img_shape'] = array.shape[:2]
        results['ori_shape'] = array.shape[:2]
        return results


@TRANSFORMS.register_module()
class LoadEncodedImage(BaseTransform):
    """The loading step of GPU decoding (:class:`~mmood.models.classifiers.GPUDecodeDataPreprocessor`): a plain
    JPEG (RGB, no EXIF rotation) stays encoded -- its bytes as a 1-D uint8 array in ``img``, decoded, resized and
    cropped on the GPU; any other image (PNG, grayscale or CMYK JPEG, EXIF-rotated, 16-bit) is decoded here with
    :class:`LoadOODImage`'s code into a full-size BGR array, which the preprocessor resizes and crops with the same
    geometry. ``ori_shape`` is the image's (height, width) either way.

    Args:
        backend_args: file backend arguments (as ``LoadOODImage``).
    """

    def __init__(self, backend_args: Optional[dict] = None):
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        content = results.pop('img_bytes', None)
        if content is None:
            content = fileio.get(results['img_path'], backend_args=self.backend_args)
        with open_image(content) as img:
            width, height = img.size
            if img.format == 'JPEG' and img.mode == 'RGB' and img.getexif().get(0x0112, 1) not in _ORIENTATIONS:
                array = np.frombuffer(content, dtype=np.uint8).copy()
            else:
                array = pil_to_bgr(img)
                height, width = array.shape[:2]
        results['img'] = array
        results['img_shape'] = (height, width)
        results['ori_shape'] = (height, width)
        return results


def decode_image(source: Union[str, bytes, BinaryIO]) -> np.ndarray:
    """Decode an image as :class:`LoadOODImage` does (BGR, 8-bit).

    Args:
        source: a file path, the encoded image as bytes (e.g. a tar member), or a binary file object.

    Returns:
        The (H, W, 3) uint8 BGR array.
    """
    with open_image(source) as img:
        return pil_to_bgr(img)


def open_image(source: Union[str, bytes, BinaryIO]) -> Image.Image:
    """``Image.open`` of a path, encoded bytes or a binary file (not decoded yet); bytes that are no image raise
    ``UnidentifiedImageError`` saying how many bytes they were."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        size = len(source)
        try:
            return Image.open(io.BytesIO(source))
        except UnidentifiedImageError:  # PIL's message names an anonymous buffer object
            raise UnidentifiedImageError(f'cannot identify image data ({size} bytes)') from None
    return Image.open(source)


def unreadable_images(paths, workers: int = 8, progress: bool = True, desc: str = 'decoding'):
    """The images that cannot be decoded, as ``(path, reason)`` -- every file is fully decoded (a truncated JPEG
    opens fine and fails only there), in ``workers`` threads (PIL releases the GIL while decoding).

    Args:
        paths: image files (in-memory references of dataset-backed sets are not files and are skipped).
        workers: decoding threads.
        progress: show a tqdm progress bar.
        desc: its label.
    """
    import os.path as osp
    from concurrent.futures import ThreadPoolExecutor

    def check(path):
        try:
            decode_image(path)
            return None
        except Exception as err:  # any decoding failure is reported, none is fatal here
            return path, f'{type(err).__name__}: {err}'

    files = [p for p in paths if osp.isfile(p)]
    with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
        results = pool.map(check, files, chunksize=64)
        if progress:
            from tqdm import tqdm
            results = tqdm(results, total=len(files), desc=desc, unit='img')
        return [r for r in results if r is not None]


@TRANSFORMS.register_module()
class PillowLoadResizeEdge(BaseTransform):
    """:class:`LoadOODImage` (pillow) followed by mmpretrain's ``ResizeEdge`` (pillow backend) and optionally mmcv's
    ``CenterCrop``, in one step.

    The same pixels and result keys as the configured transforms (``img`` BGR uint8, ``img_shape``, ``ori_shape``,
    ``scale``, ``scale_factor``, and ``pad_shape`` after a crop), without their round trips through numpy: the
    decoded image is resized as a PIL image (the same ``Image.resize`` call with the same size and filter; PIL
    filters each band on its own, so resizing RGB and then swapping channels equals mmcv's resize of the BGR array),
    cropped with mmcv's box, and converted to BGR once, at the crop's size. Local files are decoded from their path
    (no copy of the encoded bytes). :func:`fuse_pipeline` puts it in place of the configured steps; configs keep
    naming them.

    Args:
        scale: ``ResizeEdge.scale``.
        edge: ``ResizeEdge.edge`` (``'short'``, ``'long'``, ``'width'``, ``'height'``).
        interpolation: ``ResizeEdge.interpolation`` (a pillow filter name).
        backend_args: ``LoadOODImage.backend_args`` (file backend).
        draft: decode JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) that still covers the resize target
            (PIL's draft mode) -- faster, **not** the same pixels; off by default (see the README for how far
            scores move).
        crop_size: ``CenterCrop.crop_size`` (an int or (width, height)) of a centre crop after the resize, or None.
    """

    def __init__(self, scale: int, edge: str = 'short', interpolation: str = 'bilinear',
                 backend_args: Optional[dict] = None, draft: bool = False,
                 crop_size: Union[int, Tuple[int, int], None] = None):
        from mmcv.image.geometric import pillow_interp_codes
        if interpolation not in pillow_interp_codes:
            raise ValueError(f'interpolation {interpolation!r} is not a pillow filter: {sorted(pillow_interp_codes)}')
        self.scale, self.edge, self.interpolation = int(scale), edge, interpolation
        self.filter = pillow_interp_codes[interpolation]
        self.backend_args = backend_args
        self.draft = bool(draft)
        self.crop_size = crop_pair(crop_size)

    def _source(self, results: dict):
        """The encoded image: ``img_bytes`` (removed from the results), a local file's path, or the file's bytes
        read through the file backend."""
        content = results.pop('img_bytes', None)
        if content is not None:
            return content
        path = results['img_path']
        backend = fileio.get_file_backend(path, backend_args=self.backend_args, enable_singleton=True)
        if isinstance(backend, fileio.LocalBackend):
            return str(path)
        return fileio.get(path, backend_args=self.backend_args)

    def transform(self, results: dict) -> dict:
        with open_image(self._source(results)) as img:
            target = None
            if self.draft and img.format == 'JPEG':
                swap = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # EXIF orientations that swap the axes
                full = img.size[::-1] if swap else img.size
                target = resize_edge_size(self.scale, self.edge, *full)  # the size the full decode would get
                img.draft('RGB', target[::-1] if swap else target)  # in the file's orientation
            rgb = pil_to_rgb(img)
            full = full if target else rgb.size
            width, height = target or resize_edge_size(self.scale, self.edge, *full)
            resized = np.asarray(rgb.resize((width, height), self.filter))
            if self.crop_size is not None:
                left, top, right, bottom = center_crop_box(self.crop_size, width, height)
                resized = resized[top:bottom, left:right]
            array = cv2.cvtColor(resized, cv2.COLOR_RGB2BGR)  # contiguous, also from a crop's strided view
        w, h = full
        results['img'] = array
        results['img_shape'] = array.shape[:2]
        results['ori_shape'] = (h, w)
        results['scale'] = (width, height)
        results['scale_factor'] = (width / w, height / h)
        if self.crop_size is not None:
            results['pad_shape'] = array.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, edge={self.edge!r}, interpolation='
                f'{self.interpolation!r}, draft={self.draft}, crop_size={self.crop_size})')


@TRANSFORMS.register_module()
class FastPackInputs(PackInputs):
    """mmpretrain's ``PackInputs`` with the same output made with fewer tensor operations: an (H, W, C) array input
    becomes the same contiguous (C, H, W) tensor through one numpy transposing copy (``PackInputs``: a tensor view, a
    permute and a contiguous copy), and an ``int`` ``gt_label`` the same (1, ) int64 tensor from a numpy array
    (``torch.LongTensor([label])`` takes 9 us) before ``PackInputs.transform`` packs it. Other inputs and labels are
    ``PackInputs``' own cases. :func:`fuse_pipeline` puts it in place of a plain ``PackInputs``; configs keep naming
    that.
    """

    @staticmethod
    def format_input(input_):
        if type(input_) is np.ndarray and input_.ndim == 3:
            return torch.from_numpy(np.ascontiguousarray(input_.transpose(2, 0, 1)))
        return PackInputs.format_input(input_)

    def transform(self, results: dict) -> dict:
        label = results.get('gt_label')
        if type(label) is int:
            results = dict(results, gt_label=torch.from_numpy(np.array([label], dtype=np.int64)))
        return super().transform(results)


def fuse_pipeline(transforms: List[Any]) -> List[Any]:
    """The built transforms with each ``LoadOODImage`` (pillow, colour, uint8) directly followed by a pillow
    ``ResizeEdge`` -- and by a plain ``CenterCrop`` (no ``auto_pad``) after it, if there is one -- replaced by one
    :class:`PillowLoadResizeEdge` (same pixels, less copying), and each plain ``PackInputs`` by a
    :class:`FastPackInputs` with its settings (the same output); others unchanged.

    Raises:
        ValueError: a ``LoadOODImage(draft=True)`` that is not followed by a pillow ``ResizeEdge`` (draft mode
            needs the resize target).
    """
    from mmcv.transforms import CenterCrop
    from mmpretrain.datasets.transforms import ResizeEdge
    out, i = [], 0
    while i < len(transforms):
        step = transforms[i]
        follower = transforms[i + 1] if i + 1 < len(transforms) else None
        fusable = isinstance(step, LoadOODImage) and step.imdecode_backend == 'pillow' and \
            step.color_type == 'color' and not step.to_float32 and type(follower) is ResizeEdge and \
            follower.backend == 'pillow'
        if isinstance(step, LoadOODImage) and step.draft and not fusable:
            raise ValueError('LoadOODImage(draft=True) decodes at a reduced size chosen from the resize target: it '
                             'must be followed by ResizeEdge(backend="pillow") and decode colour images with pillow')
        if not fusable:
            if type(step) is PackInputs:
                step = FastPackInputs(step.input_key, step.algorithm_keys, step.meta_keys)
            out.append(step)
            i += 1
            continue
        crop = transforms[i + 2] if i + 2 < len(transforms) else None
        crop = crop if type(crop) is CenterCrop and not crop.auto_pad else None
        out.append(PillowLoadResizeEdge(follower.scale, follower.edge, follower.interpolation, step.backend_args,
                                        step.draft, crop.crop_size if crop is not None else None))
        i += 3 if crop is not None else 2
    return out


def describe_pipeline(pipeline) -> str:
    """One line naming a test pipeline's steps and their settings (report headers: the methods of the negative-label
    family publish different preprocessing, and a comparison holds for the pipeline it ran with), e.g.
    ``LoadOODImage(imdecode_backend=pillow) -> ResizeEdge(scale=224, edge=short, ...) -> CenterCrop(crop_size=224)``.

    Args:
        pipeline: transform configs (dicts, as in a config's ``test_dataloader.dataset.pipeline``); ``PackInputs``
            is left out.
    """
    steps = []
    for step in pipeline or ():
        step = dict(step) if isinstance(step, dict) or hasattr(step, 'items') else {'type': type(step).__name__}
        kind = str(step.pop('type', '?'))
        if kind.split('.')[-1] == 'PackInputs':
            continue
        args = ', '.join(f'{k}={v}' for k, v in step.items())
        steps.append(f'{kind}({args})')
    return ' -> '.join(steps) if steps else 'none (the dataset gives tensors)'
