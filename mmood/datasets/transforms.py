"""Image loading with the reference implementations' decoding by default, the rest as named options.

Every reference implementation of the methods mmood reproduces (OpenAI CLIP's ``_convert_image_to_rgb``,
torchvision ``ImageFolder``'s ``pil_loader``, NegLabel, MCM, OpenOOD) decodes an image as
``Image.open(path).convert('RGB')``: EXIF orientation ignored, alpha dropped (the colour under a transparent pixel
kept), images of more than 8 bits per sample clipped to [0, 255] (a 16-bit PNG decodes almost white, a float image
in [0, 1] almost black). The loading steps here -- :class:`LoadOODImage`, the fused :class:`PillowLoadResizeEdge`,
:class:`LoadEncodedImage` (GPU decoding), :func:`decode_image` and :func:`unreadable_images` -- give exactly those
pixels by default (BGR, as mmcv's loading does). Three options, the same in each of them, change it:

* ``exif_orientation=True``: apply the EXIF orientation (``ImageOps.exif_transpose``), as mmcv's pillow backend
  does;
* ``alpha='composite'``: composite every image with transparency (``LA``, ``RGBA``, ``PA``, a palette or colour
  image with a transparency key) over mmcv's canvas colour (124, 117, 104); ``alpha='mmcv'``: only ``LA`` images,
  as mmcv's pillow backend does (every other alpha channel is dropped);
* ``bit_depth='scale'``: scale 16-bit and 32-bit images to 8 bits by value (:func:`to_8bit`) instead of clipping.

``exif_orientation=True, alpha='mmcv', bit_depth='scale'`` is mmcv's pillow decoding with wide images scaled (mmood's
earlier default); docs/decoding.md says when to use which.

Images that are not files (members of webdataset tar shards, :class:`~mmood.datasets.ImageCaptionDataset`) come
as encoded bytes in ``results['img_bytes']``; the loading steps decode them with the same code as files
(:func:`decode_image`).
"""
import io
from typing import Any, BinaryIO, Dict, List, Optional, Tuple, Union

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
           'describe_pipeline', 'with_decoding_defaults', 'decoding_options', 'DECODING_DEFAULTS', 'to_8bit',
           'pil_to_rgb', 'pil_to_bgr', 'decode_image', 'open_image', 'unreadable_images']

#: PIL modes holding more than 8 bits per sample
_WIDE_MODES = ('I;16', 'I;16B', 'I;16L', 'I;16N', 'I', 'F')
#: EXIF orientations that move pixels (1 and a missing tag leave the image as it is)
_ORIENTATIONS = (2, 3, 4, 5, 6, 7, 8)
#: PIL modes with an alpha band
_ALPHA_MODES = ('LA', 'La', 'PA', 'RGBA', 'RGBa')
#: the canvas colour of mmcv's pillow backend for an ``LA`` image, used by both compositing options
CANVAS = (124, 117, 104)
#: the decoding options of every loading step, with their defaults: ``Image.open(path).convert('RGB')``'s pixels
DECODING_DEFAULTS = dict(exif_orientation=False, alpha='drop', bit_depth='clip')
_ALPHA_CHOICES = ('drop', 'composite', 'mmcv')
_BIT_DEPTH_CHOICES = ('clip', 'scale')
#: the mmood loading steps that take the decoding options (configs name them by these types)
_DECODING_STEPS = ('LoadOODImage', 'LoadEncodedImage', 'PillowLoadResizeEdge')


def decoding_options(exif_orientation: bool = False, alpha: str = 'drop', bit_depth: str = 'clip') -> Dict[str, Any]:
    """The decoding options checked, as a dict for :func:`pil_to_rgb` (module docstring: what each one does).

    Raises:
        ValueError: an ``alpha`` or ``bit_depth`` that is not one of the choices, or an ``exif_orientation`` that is
            not a bool.
    """
    if not isinstance(exif_orientation, (bool, np.bool_)):
        raise ValueError(f'exif_orientation must be True or False, got {exif_orientation!r}')
    if alpha not in _ALPHA_CHOICES:
        raise ValueError(f'alpha must be one of {_ALPHA_CHOICES}, got {alpha!r}')
    if bit_depth not in _BIT_DEPTH_CHOICES:
        raise ValueError(f'bit_depth must be one of {_BIT_DEPTH_CHOICES}, got {bit_depth!r}')
    return dict(exif_orientation=bool(exif_orientation), alpha=alpha, bit_depth=bit_depth)


def _options_repr(options: Dict[str, Any]) -> str:
    return ', '.join(f'{k}={v!r}' for k, v in options.items())


def to_8bit(img: Image.Image) -> Image.Image:
    """An 8-bit ``L`` image of a wide grayscale one (16-bit: ``round(v / 257)``, so ``v8 * 257`` maps back to
    ``v8`` exactly; 32-bit integers as 16-bit when they fit, else scaled by their maximum; float in [0, 1] x 255,
    else clipped to [0, 255]); other images unchanged. ``bit_depth='scale'``; PIL's ``convert`` clips instead."""
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


def _has_alpha(img: Image.Image, alpha: str) -> bool:
    """Whether ``alpha`` composites this image: ``'mmcv'`` only ``LA`` images, ``'composite'`` every image with an
    alpha band or a transparency key."""
    if alpha == 'mmcv':
        return img.mode == 'LA'
    return alpha == 'composite' and (img.mode in _ALPHA_MODES or 'transparency' in img.info)


def pil_to_rgb(img: Image.Image, exif_orientation: bool = False, alpha: str = 'drop',
               bit_depth: str = 'clip') -> Image.Image:
    """The RGB image a loading step decodes (module docstring): by default ``img.convert('RGB')``'s pixels -- an
    RGB image is returned as it is, without a copy.

    Args:
        img: an opened image (not necessarily loaded yet).
        exif_orientation: apply its EXIF orientation first.
        alpha: ``'drop'`` (``convert('RGB')``), ``'composite'`` (every image with transparency over
            :data:`CANVAS`) or ``'mmcv'`` (``LA`` images only, as mmcv's pillow backend).
        bit_depth: ``'clip'`` (``convert``'s: values saturate at 0 and 255, floats truncated) or ``'scale'``
            (:func:`to_8bit`).
    """
    if exif_orientation:
        img.load()  # as exif_transpose does first (a PNG's EXIF chunk may follow its pixels)
        if img.getexif().get(0x0112, 1) in _ORIENTATIONS:  # else exif_transpose returns a copy of the same pixels
            img = ImageOps.exif_transpose(img)
    if bit_depth == 'scale':
        img = to_8bit(img)
    if alpha != 'drop' and _has_alpha(img, alpha):
        rgba = img.convert('RGBA')
        out = Image.new('RGB', rgba.size, CANVAS)
        out.paste(rgba, mask=rgba.getchannel('A'))
        return out
    return img if img.mode == 'RGB' else img.convert('RGB')


def rgb_to_bgr(img: Image.Image) -> np.ndarray:
    """The (H, W, 3) uint8 BGR array of an RGB image, contiguous.

    OpenCV's channel swap takes 0.02 ms for 400x300; the reversed-stride view ``[:, :, ::-1]`` cost every later
    consumer a slow strided copy (1-4 ms per image, e.g. PIL's ``fromarray`` in a pillow resize). Same pixels.
    """
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def pil_to_bgr(img: Image.Image, **options) -> np.ndarray:
    """:func:`pil_to_rgb` (with the same ``options``), channels reversed to BGR, as mmcv's loading gives them."""
    return rgb_to_bgr(pil_to_rgb(img, **options))


@TRANSFORMS.register_module()
class LoadOODImage(LoadImageFromFile):
    """``LoadImageFromFile`` whose pillow colour decoding is the reference implementations'
    ``Image.open(path).convert('RGB')`` by default, with the decoding options of the module docstring.

    The encoded image comes from ``results['img_bytes']`` when the dataset put it there (tar shards), else from the
    file ``results['img_path']``.

    Args:
        imdecode_backend: ``'pillow'`` (default, the reference methods' decoder) or any mmcv backend, which decodes
            as mmcv does (``'cv2'`` applies EXIF orientation and scales 16-bit images itself); the decoding options
            apply to pillow colour decoding only.
        draft: decode JPEGs at a reduced DCT scale that still covers the following pillow ``ResizeEdge``'s target
            (PIL's draft mode; only with that resize, see :func:`fuse_pipeline`): faster, not the same pixels (up to
            22 levels apart on large photo-like JPEGs, :class:`PillowLoadResizeEdge`).
        exif_orientation: apply the image's EXIF orientation (default False: ignored, as ``convert('RGB')``).
        alpha: ``'drop'`` (default, as ``convert('RGB')``), ``'composite'`` or ``'mmcv'`` (:func:`pil_to_rgb`).
        bit_depth: ``'clip'`` (default, as ``convert('RGB')``) or ``'scale'`` (:func:`to_8bit`).
        **kwargs: as mmcv's ``LoadImageFromFile``.

    Raises:
        ValueError: a decoding option other than its default with another backend or ``color_type``.
    """

    def __init__(self, imdecode_backend: str = 'pillow', draft: bool = False, exif_orientation: bool = False,
                 alpha: str = 'drop', bit_depth: str = 'clip', **kwargs):
        super().__init__(imdecode_backend=imdecode_backend, **kwargs)
        self.draft = bool(draft)
        self.decoding = decoding_options(exif_orientation, alpha, bit_depth)
        if self.decoding != DECODING_DEFAULTS and not self.pillow_colour:
            raise ValueError(f'LoadOODImage: the decoding options ({_options_repr(self.decoding)}) apply to pillow '
                             f'colour decoding, not imdecode_backend={imdecode_backend!r}, color_type='
                             f'{self.color_type!r}')

    @property
    def pillow_colour(self) -> bool:
        """Whether this step decodes with mmood's pillow colour decoding (and its options)."""
        return self.imdecode_backend == 'pillow' and self.color_type == 'color'

    def transform(self, results: dict) -> dict:
        """Decode ``results['img_bytes']`` (removed from the results) when present, else the file
        ``results['img_path']``; raises on bytes or files that cannot be decoded."""
        if self.draft:
            raise ValueError('LoadOODImage(draft=True) runs fused with the pillow ResizeEdge after it, in datasets '
                             'that fuse their pipeline (OODEvalDataset: mmood.datasets.fuse_pipeline)')
        content = results.pop('img_bytes', None)
        if content is None and not self.pillow_colour:
            return super().transform(results)
        if content is None:
            content = fileio.get(results['img_path'], backend_args=self.backend_args)
        if self.pillow_colour:
            array = decode_image(content, **self.decoding)
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

    def __repr__(self) -> str:
        return f'{super().__repr__()[:-1]}, draft={self.draft}, {_options_repr(self.decoding)})'


@TRANSFORMS.register_module()
class LoadEncodedImage(BaseTransform):
    """The loading step of GPU decoding (:class:`~mmood.models.classifiers.GPUDecodeDataPreprocessor`): a plain
    JPEG (RGB; with ``exif_orientation=True`` also no EXIF orientation that moves pixels) stays encoded -- its bytes
    as a 1-D uint8 array in ``img``, decoded, resized and cropped on the GPU (nvJPEG ignores EXIF orientation, as
    ``convert('RGB')`` does); any other image (PNG, grayscale or CMYK JPEG, 16-bit) is decoded here with
    :class:`LoadOODImage`'s code and options into a full-size BGR array, which the preprocessor resizes and crops
    with the same geometry. ``ori_shape`` is the image's (height, width) either way.

    Args:
        backend_args: file backend arguments (as ``LoadOODImage``).
        exif_orientation: apply EXIF orientation (default False); True decodes EXIF-rotated JPEGs here.
        alpha: ``'drop'`` (default), ``'composite'`` or ``'mmcv'`` (:func:`pil_to_rgb`).
        bit_depth: ``'clip'`` (default) or ``'scale'`` (:func:`pil_to_rgb`).
    """

    def __init__(self, backend_args: Optional[dict] = None, exif_orientation: bool = False, alpha: str = 'drop',
                 bit_depth: str = 'clip'):
        self.backend_args = backend_args
        self.decoding = decoding_options(exif_orientation, alpha, bit_depth)

    def transform(self, results: dict) -> dict:
        content = results.pop('img_bytes', None)
        if content is None:
            content = fileio.get(results['img_path'], backend_args=self.backend_args)
        with open_image(content) as img:
            width, height = img.size
            if img.format == 'JPEG' and img.mode == 'RGB' and not (
                    self.decoding['exif_orientation'] and img.getexif().get(0x0112, 1) in _ORIENTATIONS):
                array = np.frombuffer(content, dtype=np.uint8).copy()
            else:
                array = pil_to_bgr(img, **self.decoding)
                height, width = array.shape[:2]
        results['img'] = array
        results['img_shape'] = (height, width)
        results['ori_shape'] = (height, width)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(backend_args={self.backend_args}, {_options_repr(self.decoding)})'


def decode_image(source: Union[str, bytes, BinaryIO], exif_orientation: bool = False, alpha: str = 'drop',
                 bit_depth: str = 'clip') -> np.ndarray:
    """Decode an image as :class:`LoadOODImage` does (BGR, 8-bit): by default the pixels of
    ``Image.open(source).convert('RGB')``, channels reversed.

    Args:
        source: a file path, the encoded image as bytes (e.g. a tar member), or a binary file object.
        exif_orientation, alpha, bit_depth: the decoding options (:func:`pil_to_rgb`).

    Returns:
        The (H, W, 3) uint8 BGR array.
    """
    options = decoding_options(exif_orientation, alpha, bit_depth)
    with open_image(source) as img:
        return pil_to_bgr(img, **options)


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


def unreadable_images(paths, workers: int = 8, progress: bool = True, desc: str = 'decoding', **options):
    """The images that cannot be decoded, as ``(path, reason)`` -- every file is fully decoded (a truncated JPEG
    opens fine and fails only there) with :func:`decode_image`, in ``workers`` threads (PIL releases the GIL while
    decoding).

    Args:
        paths: image files (in-memory references of dataset-backed sets are not files and are skipped).
        workers: decoding threads.
        progress: show a tqdm progress bar.
        desc: its label.
        **options: the decoding options of the loading step the images are for (default ``convert('RGB')``;
            ``exif_orientation=True`` also reads the EXIF orientation, which can fail on its own).
    """
    import os.path as osp
    from concurrent.futures import ThreadPoolExecutor
    options = decoding_options(**options)

    def check(path):
        try:
            decode_image(path, **options)
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
    """:class:`LoadOODImage` (pillow, with its decoding options) followed by mmpretrain's ``ResizeEdge`` (pillow
    backend) and optionally mmcv's ``CenterCrop``, in one step.

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
            (PIL's draft mode) -- faster, **not** the same pixels: on photo-like JPEGs (quality 90) of 2000x1500 and
            4000x3000 resized to 224 (bilinear or bicubic) and centre-cropped, pixels moved by up to 22 levels from
            full decoding (mean 0.45-0.75 levels; 8-11 % of the values by more than one level; docs/decoding.md);
            off by default.
        crop_size: ``CenterCrop.crop_size`` (an int or (width, height)) of a centre crop after the resize, or None.
        exif_orientation, alpha, bit_depth: ``LoadOODImage``'s decoding options (:func:`pil_to_rgb`).
    """

    def __init__(self, scale: int, edge: str = 'short', interpolation: str = 'bilinear',
                 backend_args: Optional[dict] = None, draft: bool = False,
                 crop_size: Union[int, Tuple[int, int], None] = None, exif_orientation: bool = False,
                 alpha: str = 'drop', bit_depth: str = 'clip'):
        from mmcv.image.geometric import pillow_interp_codes
        if interpolation not in pillow_interp_codes:
            raise ValueError(f'interpolation {interpolation!r} is not a pillow filter: {sorted(pillow_interp_codes)}')
        self.scale, self.edge, self.interpolation = int(scale), edge, interpolation
        self.filter = pillow_interp_codes[interpolation]
        self.backend_args = backend_args
        self.draft = bool(draft)
        self.crop_size = crop_pair(crop_size)
        self.decoding = decoding_options(exif_orientation, alpha, bit_depth)

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
                # EXIF orientations that swap the axes, when applied
                swap = self.decoding['exif_orientation'] and img.getexif().get(0x0112, 1) in (5, 6, 7, 8)
                full = img.size[::-1] if swap else img.size
                target = resize_edge_size(self.scale, self.edge, *full)  # the size the full decode would get
                img.draft('RGB', target[::-1] if swap else target)  # in the file's orientation
            rgb = pil_to_rgb(img, **self.decoding)
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
                f'{self.interpolation!r}, draft={self.draft}, crop_size={self.crop_size}, '
                f'{_options_repr(self.decoding)})')


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
    :class:`PillowLoadResizeEdge` with its decoding options (same pixels, less copying), and each plain
    ``PackInputs`` by a :class:`FastPackInputs` with its settings (the same output); others unchanged.

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
                                        step.draft, crop.crop_size if crop is not None else None, **step.decoding))
        i += 3 if crop is not None else 2
    return out


def with_decoding_defaults(pipeline) -> List[Any]:
    """A pipeline config with the decoding options written out: each ``LoadOODImage`` (pillow colour decoding),
    ``LoadEncodedImage`` or ``PillowLoadResizeEdge`` step gets the options it does not name, with their defaults
    (:data:`DECODING_DEFAULTS`), after the ones it names; other steps, and built transforms, unchanged.

    Two pipelines that decode alike then read alike, whether a config names a default or leaves it out, and a
    pipeline written before the options existed reads differently from one of today (report headers; a key made
    from it, as the feature cache's, changes with the decoding).

    Args:
        pipeline: transform configs (dicts, as in a config's ``test_dataloader.dataset.pipeline``), or None.
    """
    out = []
    for step in pipeline or ():
        if isinstance(step, dict) or hasattr(step, 'items'):
            kind = step.get('type')
            name = kind.split('.')[-1] if isinstance(kind, str) else getattr(kind, '__name__', '')
            pillow = name != 'LoadOODImage' or (step.get('imdecode_backend', 'pillow') == 'pillow'
                                                and step.get('color_type', 'color') == 'color')
            if name in _DECODING_STEPS and pillow:
                step = dict(step, **{k: step.get(k, v) for k, v in DECODING_DEFAULTS.items()})
        out.append(step)
    return out


def describe_pipeline(pipeline) -> str:
    """One line naming a test pipeline's steps and their settings (report headers: the methods of the negative-label
    family publish different preprocessing, and a comparison holds for the pipeline it ran with), with the loading
    step's decoding options written out (:func:`with_decoding_defaults`), e.g.
    ``LoadOODImage(imdecode_backend=pillow, exif_orientation=False, alpha=drop, bit_depth=clip) ->
    ResizeEdge(scale=224, edge=short, ...) -> CenterCrop(crop_size=224)``.

    Args:
        pipeline: transform configs (dicts, as in a config's ``test_dataloader.dataset.pipeline``); ``PackInputs``
            is left out.
    """
    steps = []
    for step in with_decoding_defaults(pipeline):
        step = dict(step) if isinstance(step, dict) or hasattr(step, 'items') else {'type': type(step).__name__}
        kind = str(step.pop('type', '?'))
        if kind.split('.')[-1] == 'PackInputs':
            continue
        args = ', '.join(f'{k}={v}' for k, v in step.items())
        steps.append(f'{kind}({args})')
    return ' -> '.join(steps) if steps else 'none (the dataset gives tensors)'
