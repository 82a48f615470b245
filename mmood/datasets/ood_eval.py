"""One evaluation dataset joining the ID test set and any number of named OOD sets.

Each sample carries ``gt_label`` (its class, -1 for OOD), ``set_id`` (0 = ID, 1.. = the OOD sets in config
order) and ``is_ood``; the dataset's metainfo holds ``classes``, ``set_names`` and ``set_groups`` (``'id'``,
``'near'`` or ``'far'``), which :class:`~mmood.evaluation.OODMetric` and the report use.

The sets are either named in the config (``id_set``, ``ood_sets``: set specifications, read by
:func:`~mmood.datasets.read_set`, see :mod:`mmood.datasets.set_spec`)::

    dict(name='iNaturalist',            # shown in every metric key and report row
         data_root='data/ood/iNaturalist',
         ann_file=None,                 # optional list file: "relative/path [label]" per line
         data_prefix=None,              # optional: image paths in ann_file are relative to this (else data_root)
         group='far')                   # OOD only: 'near' | 'far'

or taken from the benchmark table (:data:`~mmood.datasets.BENCHMARKS`): ``benchmark='imagenet_mos'`` with
``benchmark_root='data'``.
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS

from ..text.class_names import load_class_names
from ..utils.errors import DataError
from .set_spec import overlap_problems, read_set, resolve_sets
from .transforms import fuse_pipeline

__all__ = ['OODEvalDataset']


def _raise(problems: List[str]) -> None:
    if problems:
        more = f' (and {len(problems) - 5} more; run tools/verify_data.py)' if len(problems) > 5 else ''
        raise DataError('; '.join(problems[:5]) + more)


@DATASETS.register_module()
class OODEvalDataset(BaseDataset):
    """ID test set + named OOD sets as one dataset.

    Args:
        id_set: specification of the ID test set (see module docstring); ``name`` defaults to ``'ID'``.
        ood_sets: list of OOD set specifications, each with a unique ``name`` and ``group`` ('near'/'far').
        class_names: ID class names (list or file); their count is checked against the ID labels.
        benchmark: a benchmark of :data:`~mmood.datasets.BENCHMARKS` giving the sets and class names not given.
        benchmark_root: root of the benchmark's default paths (``data``).
        pipeline: data pipeline.
        check_files: check that every file named by an annotation list exists (slow for huge lists).
        max_per_set: keep only the first N samples of each set (quick runs).
        allow_overlap: accept an ID image inside an OOD set (or one set's folder inside another's); refused by
            default, since an ID image scored as OOD corrupts every metric.
        skip_unreadable: leave unreadable images out of the metrics, counted in the log, ``metrics.json`` and the
            report; by default an unreadable image stops the run with an error naming it.
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 id_set: Optional[dict] = None,
                 ood_sets: Optional[Sequence[dict]] = None,
                 class_names: Union[str, Sequence[str], None] = None,
                 benchmark: Optional[str] = None,
                 benchmark_root: str = 'data',
                 pipeline: Sequence = (),
                 check_files: bool = False,
                 max_per_set: Optional[int] = None,
                 allow_overlap: bool = False,
                 skip_unreadable: bool = False,
                 test_mode: bool = True,
                 **kwargs):
        self.id_set, self.ood_sets, class_names = resolve_sets(dict(
            id_set=id_set, ood_sets=ood_sets, class_names=class_names, benchmark=benchmark,
            benchmark_root=benchmark_root))
        self.class_names = load_class_names(class_names)
        self.check_files = check_files
        self.max_per_set = max_per_set
        self.allow_overlap = allow_overlap
        self.skip_unreadable = skip_unreadable
        names = [self.id_set['name']] + [s['name'] for s in self.ood_sets]
        metainfo = dict(classes=tuple(self.class_names), set_names=tuple(names),
                        set_groups=tuple(['id'] + [s['group'] for s in self.ood_sets]))
        super().__init__(metainfo=metainfo, pipeline=pipeline, test_mode=test_mode, **kwargs)
        # pillow loading + pillow ResizeEdge run as one step (same pixels, less copying: fuse_pipeline); the
        # configured steps stay for the stand-in of an unreadable image
        self._configured_steps = list(self.pipeline.transforms)
        self.pipeline.transforms = fuse_pipeline(self._configured_steps)

    def load_data_list(self) -> List[dict]:
        data_list, read = [], []
        specs = [(self.id_set, True)] + [(s, False) for s in self.ood_sets]
        for set_id, (spec, is_id) in enumerate(specs):
            samples, problems = read_set(spec, is_id, len(self.class_names), self.check_files, self.class_names)
            _raise(problems)
            read.append((spec, [info['img_path'] for info in samples]))
            if self.max_per_set:
                samples = samples[:self.max_per_set]
            data_list.extend(dict(info, set_id=set_id, is_ood=int(not is_id)) for info in samples)
        if not self.allow_overlap:
            _raise(overlap_problems(read))
        return data_list

    def set_counts(self) -> Dict[str, int]:
        """Number of samples per set name."""
        counts = {n: 0 for n in self.metainfo['set_names']}
        for i in range(len(self)):
            counts[self.metainfo['set_names'][self.get_data_info(i)['set_id']]] += 1
        return counts

    def prepare_data(self, idx: int):
        info = self.get_data_info(idx)
        try:
            return self.pipeline(info)
        except Exception as err:
            where = f'{info["img_path"]} (set "{self.metainfo["set_names"][info["set_id"]]}")'
            if not self.skip_unreadable:
                raise DataError(f'Cannot read image {where}: {type(err).__name__}: {err}. List every unreadable '
                                f'image with tools/verify_data.py CONFIG; set test_dataloader.dataset.'
                                f'skip_unreadable=True to leave them out of the metrics (counted and listed in '
                                f'metrics.json and the report).') from err
            return self._placeholder(info, f'{type(err).__name__}: {err}')

    def _placeholder(self, info: dict, reason: str) -> dict:
        """A stand-in for an unreadable image (skip_unreadable): a black image through the pipeline after its loading
        step, marked ``unreadable`` so :class:`~mmood.evaluation.OODMetric` leaves it out and counts it."""
        from mmcv.transforms import LoadImageFromFile

        from .transforms import LoadEncodedImage
        steps = list(self._configured_steps)
        while steps and isinstance(steps[0], (LoadImageFromFile, LoadEncodedImage)):
            steps.pop(0)
        img = np.zeros((256, 256, 3), dtype=np.uint8)
        results = dict(info, img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        for step in steps:
            results = step(results)
        results['data_samples'].set_metainfo(dict(unreadable=reason))
        return results
