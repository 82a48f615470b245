"""The small-image (32x32) OOD sets of the CIFAR benchmarks: SVHN from its ``.mat`` file with CIDER's selection rule,
a seeded subset of a folder (Places365), and one loading step for sets held in memory (CIFAR, SVHN) and sets read
from files (LSUN, iSUN, Textures, Places365, OpenOOD's image lists). Layouts and sources: docs/data.md.

* **SVHN selection** (CIDER / KNN-OOD ``select_svhn_data.py``, which the NPOS README asks to run): scan
  ``test_32x32.mat`` in file order and keep sample ``i`` while fewer than ``per_class`` (1,000) samples of its label
  have been kept: the first 1,000 of each digit, file order preserved, 10,000 images (every digit has more than
  1,000 test images). Applied as an index rule on the ``.mat``: no intermediate file. ``selection='full'`` keeps all
  26,032 (OpenOOD's set).
* **Seeded subset of a folder** (Places365 ``test_256``, whose reference subset of 10,000 has no list and no seed):
  the image files under the folder, sorted by path, then the positions ``sorted(numpy.random.default_rng(seed)
  .choice(n, num, replace=False))``.
* **Channels**: file sets decode to BGR (mmcv's convention, :class:`~mmood.datasets.LoadOODImage`); in-memory arrays
  of MMPretrain's CIFAR datasets and of :class:`SVHNMatDataset` are RGB. :class:`LoadImageOrArray` reverses in-memory
  arrays to BGR, so that one data preprocessor (``to_rgb=True``) serves every set.
"""
import os.path as osp
from typing import List, Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS, TRANSFORMS

from ..text.class_names import resolve_path
from .set_spec import scan_images
from .transforms import LoadOODImage

__all__ = ['svhn_selection', 'seeded_subset', 'SVHNMatDataset', 'SeededSubsetFolder', 'LoadImageOrArray']

SVHN_SELECTIONS = ('cider', 'full')


def svhn_selection(labels: np.ndarray, per_class: int = 1000) -> np.ndarray:
    """Indices kept by CIDER's SVHN rule (module docstring): the first ``per_class`` samples of every label, in
    file order."""
    labels = np.asarray(labels).reshape(-1)
    kept, seen = [], {}
    for i, label in enumerate(labels.tolist()):
        if seen.get(label, 0) < per_class:
            seen[label] = seen.get(label, 0) + 1
            kept.append(i)
    return np.asarray(kept, dtype=np.int64)


def seeded_subset(num_items: int, num: int, seed: int) -> np.ndarray:
    """The sorted positions of a seeded subset of ``num`` of ``num_items`` (module docstring); all if fewer."""
    if num_items <= num:
        return np.arange(num_items, dtype=np.int64)
    return np.sort(np.random.default_rng(int(seed)).choice(num_items, int(num), replace=False)).astype(np.int64)


@DATASETS.register_module()
class SVHNMatDataset(BaseDataset):
    """SVHN's ``test_32x32.mat`` (``X`` 32x32x3xN uint8, ``y`` 1..10 with 10 = digit 0) as in-memory RGB images.

    Args:
        data_root: folder holding the file.
        file: the ``.mat`` file name.
        selection: ``'cider'`` (the first 1,000 per digit, 10,000 images; the CIFAR OOD benchmarks' SVHN) or
            ``'full'`` (all 26,032).
        per_class: images per digit of the ``'cider'`` rule.
        pipeline, test_mode, **kwargs: as :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self, data_root: str = 'data/small_ood/svhn', file: str = 'test_32x32.mat', selection: str = 'cider',
                 per_class: int = 1000, pipeline=(), test_mode: bool = True, **kwargs):
        if selection not in SVHN_SELECTIONS:
            raise ValueError(f'SVHNMatDataset: selection must be one of {SVHN_SELECTIONS}, got {selection!r}')
        self.file, self.selection, self.per_class = file, selection, int(per_class)
        super().__init__(data_root=data_root, pipeline=pipeline, test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        from scipy.io import loadmat
        path = osp.join(resolve_path(self.data_root), self.file)
        if not osp.isfile(path):
            raise FileNotFoundError(f'SVHN: {path} not found (docs/data.md "Small-image OOD sets")')
        mat = loadmat(path)
        images = np.ascontiguousarray(np.transpose(mat['X'], (3, 0, 1, 2)))
        labels = np.asarray(mat['y']).reshape(-1).astype(np.int64) % 10
        index = svhn_selection(labels, self.per_class) if self.selection == 'cider' else np.arange(len(labels))
        return [dict(img=images[i], gt_label=int(labels[i]), img_path=f'{path}#{int(i)}') for i in index]


@DATASETS.register_module()
class SeededSubsetFolder(BaseDataset):
    """A seeded subset of the image files under a folder (module docstring), read from files.

    Args:
        data_root: the folder (scanned recursively, sorted).
        num: images kept (10,000).
        seed: seed of the subset (0).
        pipeline, test_mode, **kwargs: as :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self, data_root: str, num: int = 10000, seed: int = 0, pipeline=(), test_mode: bool = True,
                 **kwargs):
        self.num, self.seed = int(num), int(seed)
        super().__init__(data_root=data_root, pipeline=pipeline, test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        root = resolve_path(self.data_root)
        if not osp.isdir(root):
            raise FileNotFoundError(f'SeededSubsetFolder: folder {root} not found')
        files = scan_images(root)
        return [dict(img_path=files[i], gt_label=-1) for i in seeded_subset(len(files), self.num, self.seed)]


@TRANSFORMS.register_module()
class LoadImageOrArray(BaseTransform):
    """:class:`~mmood.datasets.LoadOODImage` for samples read from files; samples that already hold an image array
    (``img``: MMPretrain's CIFAR, :class:`SVHNMatDataset`, the digits) keep it, channels reversed when
    ``arrays_rgb`` (RGB arrays become BGR, as decoded files are). Not fused with a following resize (the fused step
    reads files only).

    Args:
        arrays_rgb: whether in-memory arrays are RGB (True for the datasets above).
        **kwargs: as :class:`~mmood.datasets.LoadOODImage`.
    """

    def __init__(self, arrays_rgb: bool = True, **kwargs):
        self.arrays_rgb = bool(arrays_rgb)
        self.loader = LoadOODImage(**kwargs)

    def transform(self, results: dict) -> Optional[dict]:
        img = results.get('img')
        if img is None:
            return self.loader.transform(results)
        img = np.asarray(img)
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        results['img'] = np.ascontiguousarray(img[..., ::-1]) if self.arrays_rgb else img
        results['img_shape'] = results['ori_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(arrays_rgb={self.arrays_rgb}, files: {self.loader!r})'
