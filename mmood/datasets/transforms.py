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
from typing import BinaryIO, Union

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine import fileio
from mmpretrain.registry import TRANSFORMS
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ['LoadOODImage', 'to_8bit', 'pil_to_bgr', 'decode_image', 'unreadable_images']

#: PIL modes holding more than 8 bits per sample
_WIDE_MODES = ('I;16', 'I;16B', 'I;16L', 'I;16N', 'I', 'F')


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


def pil_to_bgr(img: Image.Image) -> np.ndarray:
    """A colour image as mmcv's pillow backend gives it: EXIF orientation applied, RGB (an ``LA`` image over mmcv's
    canvas colour), channels reversed to BGR."""
    img = ImageOps.exif_transpose(img)
    img = to_8bit(img)
    if img.mode != 'RGB':
        if img.mode != 'LA':
            img = img.convert('RGB')
        else:
            rgba = img.convert('RGBA')
            img = Image.new('RGB', rgba.size, (124, 117, 104))
            img.paste(rgba, mask=rgba.split()[3])
    return np.array(img)[:, :, ::-1]


@TRANSFORMS.register_module()
class LoadOODImage(LoadImageFromFile):
    """``LoadImageFromFile`` (pillow decoding by default) with wide images scaled to 8 bits (module docstring).

    The encoded image comes from ``results['img_bytes']`` when the dataset put it there (tar shards), else from the
    file ``results['img_path']``.

    Args:
        imdecode_backend: ``'pillow'`` (default, the reference methods' decoder) or any mmcv backend (``'cv2'``
            scales 16-bit images itself).
        **kwargs: as mmcv's ``LoadImageFromFile``.
    """

    def __init__(self, imdecode_backend: str = 'pillow', **kwargs):
        super().__init__(imdecode_backend=imdecode_backend, **kwargs)

    def transform(self, results: dict) -> dict:
        """Decode ``results['img_bytes']`` (removed from the results) when present, else the file
        ``results['img_path']``; raises on bytes or files that cannot be decoded."""
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


def decode_image(source: Union[str, bytes, BinaryIO]) -> np.ndarray:
    """Decode an image as :class:`LoadOODImage` does (BGR, 8-bit).

    Args:
        source: a file path, the encoded image as bytes (e.g. a tar member), or a binary file object.

    Returns:
        The (H, W, 3) uint8 BGR array.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        size = len(source)
        try:
            img = Image.open(io.BytesIO(source))
        except UnidentifiedImageError:  # PIL's message names an anonymous buffer object
            raise UnidentifiedImageError(f'cannot identify image data ({size} bytes)') from None
    else:
        img = Image.open(source)
    with img:
        return pil_to_bgr(img)


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
