"""One evaluation dataset joining the ID test set and any number of named OOD sets.

Each sample carries ``gt_label`` (its class, -1 for OOD), ``set_id`` (0 = ID, 1.. = the OOD sets in config
order) and ``is_ood``; the dataset's metainfo holds ``classes``, ``set_names`` and ``set_groups`` (``'id'``,
``'near'`` or ``'far'``), which :class:`~mmood.evaluation.OODMetric` and the report use.

Set specification (``id_set`` and each entry of ``ood_sets``)::

    dict(name='iNaturalist',            # shown in every metric key and report row
         data_root='data/ood/iNaturalist',
         ann_file=None,                 # optional list file: "relative/path [label]" per line
         data_prefix=None,              # optional: image paths in ann_file are relative to this (else data_root)
         group='far')                   # OOD only: 'near' | 'far'

* ID from folders: class sub-folders, ordered by ``id_set['folder_order']`` (a file of folder names in class
  index order, e.g. ``txtfiles/imagenet_wnids.txt``) or else sorted (ImageFolder convention).
* ID from an annotation file: ``path label`` per line, split on the last space (mmpretrain's ImageNet
  ``meta/val.txt`` and OpenOOD image lists work).
* OOD from folders: scanned recursively for image files; from a list: labels are ignored.
* Any registered dataset as a set: ``dict(name=..., dataset=dict(type='CIFAR100', ...))``
  (:mod:`mmood.datasets.dataset_sets`; e.g. CIFAR's python batches, images in memory).
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset
from mmpretrain.registry import DATASETS

from ..text.class_names import load_class_names, resolve_path

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp', '.gif')
GROUPS = ('near', 'far')


def _read_list(path: str) -> List[Tuple[str, Optional[int]]]:
    out = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            parts = line.rsplit(' ', 1)
            if len(parts) == 2 and parts[1].lstrip('-').isdigit():
                out.append((parts[0], int(parts[1])))
            else:
                out.append((line, None))
    return out


def scan_images(root: str) -> List[str]:
    """All image files under ``root``, recursively, sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        found.extend(osp.join(dirpath, f) for f in sorted(filenames) if f.lower().endswith(IMG_EXTENSIONS))
    return found


def label_problems(name: str, labels, num_classes: Optional[int]) -> List[str]:
    """The problem line for ID labels outside ``[0, num_classes)`` (a class-name count mismatch), if any."""
    if num_classes is None:
        return []
    bad = sorted({int(lab) for lab in labels if not 0 <= lab < num_classes})
    if not bad:
        return []
    return [f'set "{name}": labels {bad[:5]} outside [0, {num_classes}) -- class-name count mismatch '
            f'(option `class_names`)']


def collect_set(spec: dict, is_id: bool, num_classes: Optional[int] = None,
                check_files: bool = False) -> Tuple[List[Tuple[str, int]], List[str]]:
    """List one set's images.

    Args:
        spec: the set specification (see module docstring).
        is_id: ID set (labels needed) or OOD set (labels ignored, -1).
        num_classes: number of ID class names, to check the folder/label count against.
        check_files: check that every listed file exists (annotation-file sets).

    Returns:
        ``(samples, problems)``: (path, label) pairs and human-readable problems (missing paths...). Callers
        raise on problems (:class:`OODEvalDataset`) or report them all (``tools/verify_data.py``).
    """
    if spec.get('dataset') is not None:  # a registered dataset as the set (e.g. CIFAR's python batches)
        from .dataset_sets import collect_dataset_set
        return collect_dataset_set(spec, is_id, num_classes)
    name = spec.get('name', 'ID' if is_id else 'OOD')
    data_root = spec.get('data_root')
    ann_file = spec.get('ann_file')
    problems, samples = [], []
    if data_root is None and ann_file is None:
        return [], [f'set "{name}": give data_root and/or ann_file']
    root = resolve_path(data_root) if data_root else ''
    if ann_file is not None:
        ann = resolve_path(ann_file)
        if not osp.isfile(ann):
            return [], [f'set "{name}": annotation file not found: {ann_file}']
        prefix = resolve_path(spec['data_prefix']) if spec.get('data_prefix') else root
        if prefix and not osp.isdir(prefix):
            problems.append(f'set "{name}": image directory not found: {prefix}')
        for rel, label in _read_list(ann):
            if is_id and label is None:
                problems.append(f'set "{name}": line "{rel}" in {ann_file} has no integer label')
                continue
            path = osp.join(prefix, rel) if prefix else rel
            samples.append((path, label if is_id else -1))
        if check_files:
            missing = [p for p, _ in samples if not osp.isfile(p)]
            problems.extend(f'set "{name}": missing image {p}' for p in missing)
    else:
        if not osp.isdir(root):
            return [], [f'set "{name}": data_root not found: {data_root}']
        if is_id:
            order_file = spec.get('folder_order')
            if order_file:
                folders = load_class_names(order_file)
            else:
                folders = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
            if num_classes is not None and len(folders) != num_classes:
                problems.append(f'set "{name}": {len(folders)} class folders in {data_root} but {num_classes} '
                                f'class names (option `class_names`)')
            for label, folder in enumerate(folders):
                sub = osp.join(root, folder)
                if not osp.isdir(sub):
                    problems.append(f'set "{name}": class folder missing: {sub}')
                    continue
                samples.extend((p, label) for p in scan_images(sub))
        else:
            samples = [(p, -1) for p in scan_images(root)]
    if is_id:
        problems += label_problems(name, (lab for _, lab in samples), num_classes)
    if not samples and not problems:
        problems.append(f'set "{name}": no images found under {data_root or ann_file}')
    return samples, problems


@DATASETS.register_module()
class OODEvalDataset(BaseDataset):
    """ID test set + named OOD sets as one dataset.

    Args:
        id_set: specification of the ID test set (see module docstring); ``name`` defaults to ``'ID'``.
        ood_sets: list of OOD set specifications, each with a unique ``name`` and ``group`` ('near'/'far').
        class_names: ID class names (list or file); their count is checked against the ID labels.
        pipeline: data pipeline.
        check_files: check that every file named by an annotation list exists (slow for huge lists).
        max_per_set: keep only the first N samples of each set (quick runs).
        **kwargs: passed to :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self,
                 id_set: dict,
                 ood_sets: Sequence[dict],
                 class_names: Union[str, Sequence[str]],
                 pipeline: Sequence = (),
                 check_files: bool = False,
                 max_per_set: Optional[int] = None,
                 test_mode: bool = True,
                 **kwargs):
        self.id_set = dict(id_set)
        self.id_set.setdefault('name', 'ID')
        self.ood_sets = [dict(s) for s in ood_sets]
        if not self.ood_sets:
            raise ValueError('OODEvalDataset needs at least one OOD set (option `ood_sets`)')
        names = [self.id_set['name']] + [s.get('name') for s in self.ood_sets]
        if any(not n for n in names) or len(set(names)) != len(names):
            raise ValueError(f'Every set needs a unique `name`; got {names}')
        for s in self.ood_sets:
            s.setdefault('group', 'far')
            if s['group'] not in GROUPS:
                raise ValueError(f'OOD set "{s["name"]}": group must be one of {GROUPS}, got {s["group"]!r}')
        self.class_names = load_class_names(class_names)
        self.check_files = check_files
        self.max_per_set = max_per_set
        metainfo = dict(classes=tuple(self.class_names), set_names=tuple(names),
                        set_groups=tuple(['id'] + [s['group'] for s in self.ood_sets]))
        super().__init__(metainfo=metainfo, pipeline=pipeline, test_mode=test_mode, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = []
        specs = [(self.id_set, True)] + [(s, False) for s in self.ood_sets]
        for set_id, (spec, is_id) in enumerate(specs):
            if spec.get('dataset') is not None:  # samples keep the dataset's fields (in-memory images)
                from .dataset_sets import dataset_set_infos
                samples, problems = dataset_set_infos(spec, is_id, len(self.class_names))
            else:
                samples, problems = collect_set(spec, is_id, len(self.class_names), self.check_files)
                samples = [dict(img_path=p, gt_label=int(lab)) for p, lab in samples]
            if problems:
                more = f' (and {len(problems) - 5} more; run tools/verify_data.py)' if len(problems) > 5 else ''
                raise FileNotFoundError('; '.join(problems[:5]) + more)
            if self.max_per_set:
                samples = samples[:self.max_per_set]
            data_list.extend(dict(info, set_id=set_id, is_ood=int(not is_id)) for info in samples)
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
            raise RuntimeError(f'Cannot load image {info["img_path"]} '
                               f'(set "{self.metainfo["set_names"][info["set_id"]]}"): {err}') from err
