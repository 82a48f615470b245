"""Any registered dataset as one set of an :class:`~mmood.datasets.OODEvalDataset` (e.g. CIFAR's python batches).

A set specification with a ``dataset`` entry takes its samples from that dataset instead of a folder or a list::

    dict(name='CIFAR-100', group='near',
         dataset=dict(type='CIFAR100', data_root='data/cifar100', split='test', download=False))

The dataset is built without a pipeline; each of its samples keeps its fields (``img`` for in-memory images
such as mmpretrain's ``CIFAR10`` / ``CIFAR100``, or ``img_path``), so the evaluation pipeline must match them
(no ``LoadImageFromFile`` for in-memory images; mmpretrain's CIFAR arrays are RGB: use ``to_rgb=False`` in the
data preprocessor). Samples without a file get a stable reference ``<type>:<data_root>:<split>#<index>`` as
``img_path`` (what the feature cache's manifests and ``per_sample_results.csv`` record). ID sets keep the
dataset's labels; OOD sets get -1.
"""
import copy
from typing import Any, Dict, List, Optional, Tuple

from .ood_eval import label_problems

__all__ = ['dataset_set_infos', 'collect_dataset_set']


def _build(spec: dict):
    from mmpretrain.registry import DATASETS
    cfg = copy.deepcopy(dict(spec['dataset']))
    cfg['pipeline'] = []
    return DATASETS.build(cfg), cfg


def _reference(cfg: dict, index: int) -> str:
    kind = cfg.get('type')
    kind = kind if isinstance(kind, str) else getattr(kind, '__name__', str(kind))
    return f'{kind}:{cfg.get("data_root", "")}:{cfg.get("split", "")}#{index}'


def _label(info: dict) -> int:
    import numpy as np
    label = np.asarray(info.get('gt_label', -1)).reshape(-1)
    return int(label[0]) if label.size else -1


def dataset_set_infos(spec: dict, is_id: bool, num_classes: Optional[int] = None
                      ) -> Tuple[List[Dict[str, Any]], List[str]]:
    """The samples of a dataset-backed set: the dataset's fields plus ``img_path`` and ``gt_label``.

    Args:
        spec: the set specification (with ``dataset``).
        is_id: ID set (labels kept, checked against ``num_classes``) or OOD set (labels -1).
        num_classes: number of ID class names.

    Returns:
        ``(infos, problems)`` as :func:`~mmood.datasets.collect_set` reports problems.
    """
    name = spec.get('name', 'ID' if is_id else 'OOD')
    try:
        dataset, cfg = _build(spec)
    except Exception as err:  # missing files, failed integrity checks...: reported, not raised
        return [], [f'set "{name}": cannot build dataset {spec["dataset"].get("type")} ({err})']
    infos = []
    for i in range(len(dataset)):
        info = {k: v for k, v in dataset.get_data_info(i).items() if k != 'sample_idx'}
        info['img_path'] = info.get('img_path') or _reference(cfg, i)
        info['gt_label'] = _label(info) if is_id else -1
        infos.append(info)
    problems = label_problems(name, (info['gt_label'] for info in infos), num_classes) if is_id else []
    if not infos and not problems:
        problems.append(f'set "{name}": dataset {cfg.get("type")} is empty')
    return infos, problems


def collect_dataset_set(spec: dict, is_id: bool, num_classes: Optional[int] = None
                        ) -> Tuple[List[Tuple[str, int]], List[str]]:
    """``(path, label)`` pairs of a dataset-backed set, as :func:`~mmood.datasets.collect_set` returns them."""
    infos, problems = dataset_set_infos(spec, is_id, num_classes)
    return [(info['img_path'], info['gt_label']) for info in infos], problems
