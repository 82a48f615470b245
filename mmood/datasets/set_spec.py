"""The one reader of set specifications: what images (and labels) a set of an OOD benchmark holds.

A *set specification* (the ``id_set`` and each ``ood_sets`` entry of :class:`~mmood.datasets.OODEvalDataset`, or a
row of :data:`~mmood.datasets.BENCHMARKS`) is one of::

    dict(name='iNaturalist', data_root='data/ood_data/iNaturalist', group='far')            # a folder
    dict(name='NINCO', ann_file='.../test_ninco.txt', data_prefix='data/openood/...')       # a list file
    dict(name='CIFAR-100', group='near', dataset=dict(type='CIFAR100', data_root=...))      # any dataset

* ID from folders: class sub-folders, ordered by ``folder_order`` (a file of folder names in class index order,
  e.g. ``txtfiles/imagenet_wnids.txt``) or else sorted (ImageFolder convention).
* From an annotation file: ``path label`` per line, split on the last space (mmpretrain's ImageNet
  ``meta/val.txt`` and OpenOOD image lists work); OOD labels are ignored.
* OOD from folders: scanned recursively for image files.
* Any registered dataset (``dataset=``): built without a pipeline; each sample keeps its fields (``img`` for
  in-memory images such as mmpretrain's ``CIFAR10`` / ``CIFAR100``, or ``img_path``), so the evaluation pipeline
  must match them (no ``LoadImageFromFile`` for in-memory images; mmpretrain's CIFAR arrays are RGB: use
  ``to_rgb=False`` in the data preprocessor). Samples without a file get a stable reference
  ``<type>:<data_root>:<split>#<index>`` as ``img_path`` (what the feature cache's manifests and
  ``per_sample_results.csv`` record). ID sets keep the dataset's labels; OOD sets get -1.

:func:`read_set` returns the samples and every problem found (missing roots, files, folders, bad labels) instead of
raising, so :class:`~mmood.datasets.OODEvalDataset` raises on the first ones and ``tools/verify_data.py`` lists
them all. :func:`resolve_sets` turns a dataset config (explicit sets, or a ``benchmark`` name) into the sets.
"""
import copy
import logging
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.logging import print_log

from ..text.class_names import load_class_names, resolve_path
from ..utils.errors import ConfigError

__all__ = ['IMG_EXTENSIONS', 'GROUPS', 'scan_images', 'label_problems', 'read_set', 'collect_set', 'resolve_sets',
           'overlap_problems']

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


def _dataset_reference(cfg: dict, index: int) -> str:
    kind = cfg.get('type')
    kind = kind if isinstance(kind, str) else getattr(kind, '__name__', str(kind))
    return f'{kind}:{cfg.get("data_root", "")}:{cfg.get("split", "")}#{index}'


def _read_dataset_set(spec: dict, name: str, is_id: bool) -> Tuple[List[Dict[str, Any]], List[str]]:
    from mmpretrain.registry import DATASETS
    cfg = copy.deepcopy(dict(spec['dataset']))
    cfg['pipeline'] = []
    try:
        dataset = DATASETS.build(cfg)
    except Exception as err:  # missing files, failed integrity checks...: reported, not raised
        return [], [f'set "{name}": cannot build dataset {cfg.get("type")} ({err})']
    infos = []
    for i in range(len(dataset)):
        info = {k: v for k, v in dataset.get_data_info(i).items() if k != 'sample_idx'}
        info['img_path'] = info.get('img_path') or _dataset_reference(cfg, i)
        label = np.asarray(info.get('gt_label', -1)).reshape(-1)
        info['gt_label'] = (int(label[0]) if label.size else -1) if is_id else -1
        infos.append(info)
    return infos, []


def _folder_order(name: str, folders: List[str], class_names: Optional[Sequence[str]], explicit: bool
                  ) -> List[str]:
    """Problems of an ID set's class folders against the class names (label i = folder i = class_names[i]).

    Folders named like the classes must be in their order: sorted folders (``four``, ``one``, ...) against names in
    natural order (``zero``, ``one``, ...) would give every image another class's label. Folders named otherwise
    (wnids) are identities: only their count is checked (by the caller).
    """
    if explicit or class_names is None or not set(folders) & set(class_names) or list(folders) == list(class_names):
        return []
    return [f'set "{name}": its class folders {folders[:5]} (sorted) are not in the order of `class_names` '
            f'{list(class_names)[:5]}, so labels would name other classes; give `folder_order` (a file of the folder '
            f'names in class order) or list `class_names` in folder order']


def _read_file_set(spec: dict, name: str, is_id: bool, num_classes: Optional[int],
                   check_files: bool, class_names: Optional[Sequence[str]] = None
                   ) -> Tuple[List[Dict[str, Any]], List[str]]:
    data_root, ann_file = spec.get('data_root'), spec.get('ann_file')
    if data_root is None and ann_file is None:
        return [], [f'set "{name}": give data_root and/or ann_file']
    root = resolve_path(data_root) if data_root else ''
    problems, samples = [], []
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
            samples.append((osp.join(prefix, rel) if prefix else rel, label if is_id else -1))
        if check_files:
            problems.extend(f'set "{name}": missing image {p}' for p, _ in samples if not osp.isfile(p))
    elif not osp.isdir(root):
        return [], [f'set "{name}": data_root not found: {data_root}']
    elif is_id:
        order_file = spec.get('folder_order')
        folders = load_class_names(order_file) if order_file else \
            sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d)))
        if num_classes is not None and len(folders) != num_classes:
            problems.append(f'set "{name}": {len(folders)} class folders in {data_root} but {num_classes} '
                            f'class names (option `class_names`)')
        problems += _folder_order(name, folders, class_names, bool(order_file))
        shown = ', '.join(f'{i} {f}' for i, f in enumerate(folders[:6])) + (' ...' if len(folders) > 6 else '')
        print_log(f'set "{name}": labels = class folders in {"`folder_order`" if order_file else "sorted"} order: '
                  f'{shown}', logger='current', level=logging.INFO)
        for label, folder in enumerate(folders):
            sub = osp.join(root, folder)
            if not osp.isdir(sub):
                problems.append(f'set "{name}": class folder missing: {sub}')
                continue
            samples.extend((p, label) for p in scan_images(sub))
    else:
        samples = [(p, -1) for p in scan_images(root)]
    return [dict(img_path=p, gt_label=int(lab)) for p, lab in samples], problems


def read_set(spec: dict, is_id: bool, num_classes: Optional[int] = None, check_files: bool = False,
             class_names: Optional[Sequence[str]] = None) -> Tuple[List[Dict[str, Any]], List[str]]:
    """Read one set: its samples (dicts with ``img_path``, ``gt_label`` and, for dataset-backed sets, the dataset's
    fields such as ``img``) and the problems found.

    Args:
        spec: the set specification (see the module docstring).
        is_id: ID set (labels needed, checked against ``num_classes``) or OOD set (labels -1).
        num_classes: number of ID class names.
        check_files: check that every file named by an annotation list exists (slow for huge lists).
        class_names: the ID class names, to check class folders named like them against their order.

    Returns:
        ``(samples, problems)``: problems are human-readable lines naming the set and the missing path.
    """
    name = spec.get('name', 'ID' if is_id else 'OOD')
    if spec.get('dataset') is not None:
        infos, problems = _read_dataset_set(spec, name, is_id)
    else:
        infos, problems = _read_file_set(spec, name, is_id, num_classes, check_files, class_names)
    if is_id:
        problems += label_problems(name, (info['gt_label'] for info in infos), num_classes)
    if not infos and not problems:
        problems.append(f'set "{name}": no images found under '
                        f'{spec.get("data_root") or spec.get("ann_file") or spec.get("dataset")}')
    return infos, problems


def collect_set(spec: dict, is_id: bool, num_classes: Optional[int] = None, check_files: bool = False,
                class_names: Optional[Sequence[str]] = None) -> Tuple[List[Tuple[str, int]], List[str]]:
    """``(path, label)`` pairs of one set and its problems (:func:`read_set` without the in-memory fields)."""
    infos, problems = read_set(spec, is_id, num_classes, check_files, class_names)
    return [(info['img_path'], info['gt_label']) for info in infos], problems


def _roots(spec: dict) -> List[str]:
    """The folders a set scans; none for a set read from an annotation list (``ann_file``), whose folder is only a
    prefix of its listed files (OpenOOD's lists share one image folder between the ID and every OOD set)."""
    if spec.get('ann_file'):
        return []
    return [osp.realpath(resolve_path(spec[k])) for k in ('data_root', 'data_prefix') if spec.get(k)]


def overlap_problems(sets: Sequence[Tuple[dict, Sequence[str]]]) -> List[str]:
    """Problems of ID/OOD overlap: the same file in the ID set and an OOD set, or one scanned set's folder inside
    another's (sets read from annotation lists overlap only through their files).

    Args:
        sets: ``(spec, paths)`` per set, the ID set first.

    Returns:
        Problem lines naming the sets, the folders and a shared file (an ID image scored as OOD would make the
        metrics of a wrong benchmark look right).
    """
    problems = []
    id_spec, id_paths = sets[0]
    id_files = {osp.normpath(osp.abspath(p)) for p in id_paths}
    for spec, paths in sets[1:]:
        for a in _roots(id_spec):
            for b in _roots(spec):
                if a == b or a.startswith(b.rstrip(os.sep) + os.sep) or b.startswith(a.rstrip(os.sep) + os.sep):
                    inner, outer = (a, b) if len(a) >= len(b) else (b, a)
                    problems.append(f'sets "{id_spec["name"]}" (ID) and "{spec["name"]}" (OOD) overlap: folder '
                                    f'{inner} lies in {outer}')
        shared = [p for p in paths if osp.normpath(osp.abspath(p)) in id_files]
        if shared:
            problems.append(f'{len(shared)} images of OOD set "{spec["name"]}" are also in the ID set '
                            f'"{id_spec["name"]}", e.g. {shared[0]}')
    if problems:
        problems.append('an ID image scored as OOD corrupts every metric; fix the paths, or set allow_overlap=True '
                        'if the overlap is intended')
    return problems


def resolve_sets(dataset_cfg: dict) -> Tuple[dict, List[dict], Any]:
    """The ID set, the OOD sets and the class names of an ``OODEvalDataset`` config.

    Sets come from ``id_set`` / ``ood_sets`` when given, else from the ``benchmark`` table
    (:func:`~mmood.datasets.benchmark_sets`, rooted at ``benchmark_root``). Defaults are filled in: the ID set's
    name (``'ID'``) and every OOD set's group (``'far'``).

    Raises:
        ValueError: no sets, an unknown benchmark, duplicate or missing set names, or an unknown group.
    """
    cfg = dict(dataset_cfg)
    id_set, ood_sets, class_names = cfg.get('id_set'), cfg.get('ood_sets'), cfg.get('class_names')
    if cfg.get('benchmark'):
        from .benchmarks import benchmark_sets
        table = benchmark_sets(cfg['benchmark'], cfg.get('benchmark_root', 'data'))
        id_set = table['id_set'] if id_set is None else id_set
        ood_sets = table['ood_sets'] if ood_sets is None else ood_sets
        class_names = table['class_names'] if class_names is None else class_names
    if id_set is None:
        raise ConfigError('OODEvalDataset needs `id_set` (or a `benchmark` name)')
    if not ood_sets:
        raise ConfigError('OODEvalDataset needs at least one OOD set (option `ood_sets`, or a `benchmark` name)')
    id_set = dict(id_set)
    id_set.setdefault('name', 'ID')
    ood_sets = [dict(s) for s in ood_sets]
    names = [id_set['name']] + [s.get('name') for s in ood_sets]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ConfigError(f'Every set needs a unique `name`; got {names}')
    for s in ood_sets:
        s.setdefault('group', 'far')
        if s['group'] not in GROUPS:
            raise ConfigError(f'OOD set "{s["name"]}": group must be one of {GROUPS}, got {s["group"]!r}')
    if class_names is None:
        raise ConfigError('OODEvalDataset needs `class_names` (or a `benchmark` name that gives them)')
    return id_set, ood_sets, class_names
