"""Cached image features served as a dataset: training and evaluation without decoding an image.

:class:`CachedFeatureDataset` reads the feature cache entries of an *image* dataset config -- an
``OODEvalDataset`` (ID test set + OOD sets) or any labelled dataset (the ID training set) -- for one model
identity (:func:`mmood.features.model_identity`). The entries are found from the config alone, so the image
folders may be gone. Rows are memory-mapped (or loaded with ``in_memory=True``).

Batches are gathered in one step (``__getitems__``; use :func:`feature_collate` as the dataloader's
``collate_fn``): ``inputs`` is a (B, D) float32 tensor (a dict of tensors for several kinds) and
``data_samples`` is a list of ``DataSample`` with ``gt_label``, ``set_id``, ``is_ood``, ``sample_idx`` and
``img_path`` -- or, with ``test_mode=False``, just the (B,) int64 label tensor, since creating 8,192 data samples
per training step would cost more than the step.
"""
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.registry import FUNCTIONS
from mmpretrain.registry import DATASETS
from mmpretrain.structures import DataSample

__all__ = ['CachedFeatureDataset', 'FeatureBatch', 'feature_collate', 'dataset_sources']


def _type_name(cfg: dict) -> str:
    kind = cfg.get('type')
    return kind.split('.')[-1] if isinstance(kind, str) else getattr(kind, '__name__', str(kind))


def dataset_sources(dataset_cfg: dict, sets: Optional[Sequence[str]] = None) -> list:
    """The cached sets of an image dataset config: each set of an ``OODEvalDataset``, else the one ID-train set.

    Args:
        dataset_cfg: an image dataset config.
        sets: keep only the sets whose name or group (``'id'``, ``'near'``, ``'far'``) is listed (None: all).

    Returns:
        :class:`~mmood.features.SetSource` list, in dataset order.
    """
    from .identity import eval_set_sources, train_set_source
    cfg = dict(dataset_cfg)
    sources = eval_set_sources(cfg) if _type_name(cfg) == 'OODEvalDataset' else [train_set_source(cfg)]
    if sets is None:
        return sources
    wanted = set(sets)
    kept = [s for s in sources if s.name in wanted or s.group in wanted]
    if not kept:
        raise ValueError(f'No set of the dataset matches {sorted(wanted)}; sets: '
                         f'{[(s.name, s.group) for s in sources]}')
    return kept


class FeatureBatch(dict):
    """A batch already gathered by :meth:`CachedFeatureDataset.__getitems__` (``inputs``, ``data_samples``)."""


@FUNCTIONS.register_module()
def feature_collate(data_batch: Any) -> dict:
    """Collate for :class:`CachedFeatureDataset`: gathered batches pass through; single items are stacked."""
    if isinstance(data_batch, FeatureBatch):
        return dict(data_batch)
    first = data_batch[0]['inputs']
    if isinstance(first, dict):
        inputs = {k: torch.stack([d['inputs'][k] for d in data_batch]) for k in first}
    else:
        inputs = torch.stack([d['inputs'] for d in data_batch])
    samples = [d['data_samples'] for d in data_batch]
    if isinstance(samples[0], torch.Tensor):
        samples = torch.stack(samples)
    return dict(inputs=inputs, data_samples=samples)


@DATASETS.register_module()
class CachedFeatureDataset(torch.utils.data.Dataset):
    """The cached features of an image dataset, in dataset order.

    Args:
        source: the image dataset config whose features were cached (``OODEvalDataset`` or a labelled dataset).
        model_id: the model identity the features were extracted with (:func:`mmood.features.model_identity`).
        cache_dir: the feature cache.
        kinds: feature kinds to serve (``('pre_proj', )``); one kind gives tensor inputs, several a dict.
        sets: keep only these sets (names or groups, e.g. ``('id', )`` for the ID test set); None = all.
        targets: (N,) labels replacing the cached ones (e.g. pseudo-labels of the ID-train set).
        in_memory: read the arrays into memory instead of memory-mapping them.
        test_mode: per-sample data samples (True) or a label tensor per batch (False, training).
        storages: accepted storage dtypes, in order of preference.

    Raises:
        MissingFeaturesError: a set's features are not cached (the message says which).
    """

    def __init__(self,
                 source: dict,
                 model_id: dict,
                 cache_dir: str,
                 kinds: Union[str, Sequence[str]] = ('pre_proj', ),
                 sets: Optional[Sequence[str]] = None,
                 targets: Optional[Any] = None,
                 in_memory: bool = False,
                 test_mode: bool = True,
                 storages: Sequence[str] = ('float32', 'float16')):
        from ..cache import CacheStore
        from .store import find_set_features
        self.kinds = (kinds, ) if isinstance(kinds, str) else tuple(kinds)
        self.sources = dataset_sources(source, sets)
        store = CacheStore(cache_dir)
        self.sets = [find_set_features(store, model_id, s, self.kinds, storages) for s in self.sources]
        self.test_mode = test_mode
        self._feats = {k: [np.array(c.feats[k]) if in_memory else c.feats[k] for c in self.sets]
                       for k in self.kinds}
        self._bounds = np.cumsum([0] + [c.num_samples for c in self.sets])
        self._set_ids = np.concatenate([np.full(c.num_samples, i, dtype=np.int64) for i, c in enumerate(self.sets)])
        self._is_ood = np.array([int(s.split == 'ood') for s in self.sources], dtype=np.int64)
        self.labels = np.concatenate([np.asarray(c.labels, dtype=np.int64) for c in self.sets])
        if targets is not None:
            targets = np.asarray(targets, dtype=np.int64).reshape(-1)
            if targets.shape[0] != len(self):
                raise ValueError(f'{targets.shape[0]} targets for {len(self)} cached samples')
            self.labels = targets
        self._paths: Optional[List[str]] = None
        names = tuple(s.name for s in self.sources)
        self.metainfo = dict(set_names=names, set_groups=tuple(s.group for s in self.sources),
                             feature_kinds=self.kinds)
        class_names = None
        if isinstance(source, dict) and _type_name(source) == 'OODEvalDataset':
            from ..datasets import resolve_sets
            class_names = resolve_sets(source)[2]
        elif isinstance(source, dict):
            class_names = source.get('class_names')
        if class_names is not None:
            from ..text.class_names import load_class_names
            self.metainfo['classes'] = tuple(load_class_names(class_names))

    def __len__(self) -> int:
        return int(self._bounds[-1])

    @property
    def set_ids(self) -> np.ndarray:
        """(N,) position of each sample's set in :attr:`sources`."""
        return self._set_ids

    def features(self, kind: str, set_index: int = 0) -> np.ndarray:
        """The (memory-mapped) feature array of one set."""
        return self._feats[kind][set_index]

    def paths(self) -> List[str]:
        """File paths of all samples (the manifests stored with the features), decoded on first use."""
        if self._paths is None:
            self._paths = [p for c in self.sets for p in c.paths()]
        return self._paths

    def _gather(self, kind: str, indices: np.ndarray) -> torch.Tensor:
        """Rows of ``indices`` as float32; read in ascending order (sequential on a memory map), returned in
        the requested order."""
        arrays = self._feats[kind]
        order = np.argsort(indices, kind='stable')
        ordered = indices[order]
        which = np.searchsorted(self._bounds, ordered, side='right') - 1
        rows = np.empty((len(indices), ) + arrays[0].shape[1:], dtype=np.float32)
        for s in np.unique(which):
            mask = which == s
            rows[order[mask]] = arrays[int(s)][ordered[mask] - self._bounds[s]]
        return torch.from_numpy(rows)

    def _inputs(self, indices: np.ndarray) -> Any:
        feats = {k: self._gather(k, indices) for k in self.kinds}
        return feats[self.kinds[0]] if len(self.kinds) == 1 else feats

    def _data_sample(self, idx: int) -> DataSample:
        info = self.get_data_info(idx)
        sample = DataSample().set_gt_label(info.pop('gt_label'))
        sample.set_metainfo(info)
        return sample

    def get_data_info(self, idx: int) -> Dict[str, Any]:
        """Annotation of one sample (no features), as mmengine datasets give it: ``img_path``, ``gt_label``,
        ``set_id``, ``is_ood``, ``sample_idx``."""
        idx = int(self._check([idx])[0])
        sid = int(self._set_ids[idx])
        return dict(img_path=self.paths()[idx], gt_label=int(self.labels[idx]), set_id=sid,
                    is_ood=int(self._is_ood[sid]), sample_idx=idx)

    def _check(self, indices: np.ndarray) -> np.ndarray:
        indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        if indices.size and (indices.min() < -len(self) or indices.max() >= len(self)):
            raise IndexError(f'index out of range for {len(self)} cached samples')
        return np.where(indices < 0, indices + len(self), indices)

    def __getitems__(self, indices: Sequence[int]) -> FeatureBatch:
        """A whole batch in one gather: ``FeatureBatch(inputs=..., data_samples=...)``."""
        indices = self._check(indices)
        samples = [self._data_sample(int(i)) for i in indices] if self.test_mode else \
            torch.from_numpy(self.labels[indices].copy())
        return FeatureBatch(inputs=self._inputs(indices), data_samples=samples)

    def __getitem__(self, idx: int) -> Dict[str, Any]:
        index = self._check([idx])
        inputs = self._inputs(index)
        inputs = {k: v[0] for k, v in inputs.items()} if isinstance(inputs, dict) else inputs[0]
        sample = self._data_sample(int(index[0])) if self.test_mode else torch.tensor(int(self.labels[index[0]]))
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        sets = ', '.join(f'{c.source.name} ({c.num_samples})' for c in self.sets)
        return f'{type(self).__name__}(kinds={self.kinds}, sets=[{sets}])'
