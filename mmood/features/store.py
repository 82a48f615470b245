"""Finding cached features from a config and reading them back in dataset order.

:func:`load_eval_split` and :func:`load_train_set` resolve the entries from the config alone (no image folder
is touched); :class:`FeatureSplit` presents the sets of the test dataset in the same order as the dataset
(ID first, then the OOD sets), so batches of ``test_dataloader.batch_size`` rows are exactly the batches a
single-process ``tools/test.py`` run scored.
"""
import logging
import shlex
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import print_log

from ..cache import CacheStore, make_key
from ..utils.errors import UserError
from .identity import (FEATURE_NAMESPACE, STORAGE_DTYPES, SetSource, decode_strings, eval_set_sources,
                       feature_key_parts, manifest_digest, train_set_source)

__all__ = ['MissingFeaturesError', 'CachedSet', 'FeatureSplit', 'find_set_features', 'load_eval_split',
           'load_train_set', 'current_manifest_digest']


class MissingFeaturesError(UserError, RuntimeError):
    """Some requested features are not in the cache; the message says what to run."""

    def __init__(self, message: str, missing: Sequence[tuple] = ()):
        super().__init__(message)
        self.missing = list(missing)


@dataclass
class CachedSet:
    """One set's cached features (memory-mapped), labels and manifest.

    Attributes:
        source: the set.
        feats: kind -> memory-mapped array (N, ...).
        labels: (N,) int64 labels (-1 for OOD).
        metas: kind -> the entry's ``meta.json``.
        paths_arrays: the manifest's encoded paths (see :meth:`paths`).
    """
    source: SetSource
    feats: Dict[str, np.ndarray]
    labels: np.ndarray
    metas: Dict[str, dict]
    paths_arrays: tuple = field(default=())

    @property
    def num_samples(self) -> int:
        return int(self.labels.shape[0])

    @property
    def manifest_digest(self) -> str:
        return next(iter(self.metas.values()))['manifest_digest']

    def paths(self) -> List[str]:
        """File paths of the samples, in order (the manifest taken at extraction)."""
        return decode_strings(*self.paths_arrays)


def find_set_features(cache: CacheStore, model_id: Dict[str, Any], source: SetSource, kinds: Sequence[str],
                      storages: Sequence[str] = STORAGE_DTYPES) -> CachedSet:
    """Load the entries of one set for every kind (float32 preferred, then float16).

    Raises:
        MissingFeaturesError: a kind is not cached (``missing`` lists ``(set, split, kind)``), or the kinds were
            extracted from different file lists.
    """
    feats, metas, labels, paths_arrays, missing = {}, {}, None, (), []
    for kind in kinds:
        for storage in storages:
            found = cache.load(FEATURE_NAMESPACE, make_key(feature_key_parts(model_id, source, kind, storage)),
                               mmap=True)
            if found is not None:
                break
        if found is None:
            missing.append((source.name, source.split, kind))
            continue
        arrays, meta = found
        feats[kind], metas[kind] = arrays['feats'], meta
        if labels is None:
            labels = np.asarray(arrays['labels'])
            paths_arrays = (arrays['paths_utf8'], arrays['paths_offsets'])
    if missing:
        raise MissingFeaturesError(f'No cached features for {missing}', missing)
    digests = {m['manifest_digest'] for m in metas.values()}
    if len(digests) > 1:
        raise MissingFeaturesError(f'The cached kinds {list(kinds)} of "{source.name}" were extracted from '
                                   f'different file lists; extract them again together.',
                                   [(source.name, source.split, k) for k in kinds])
    return CachedSet(source=source, feats=feats, labels=labels, metas=metas, paths_arrays=paths_arrays)


def current_manifest_digest(source: SetSource, num_classes: Optional[int] = None) -> Optional[str]:
    """Digest of the file list the set's config entry yields *now*, or None when the images are not there.

    Test sets are rescanned with :func:`~mmood.datasets.collect_set` (cheap: a directory walk or a list file);
    ``id_train`` datasets are built without their pipeline.
    """
    if source.split == 'id_train':
        try:
            from mmpretrain.registry import DATASETS
            cfg = dict(source.spec, pipeline=[])
            dataset = DATASETS.build(cfg)
            from .extract import dataset_manifest
            paths, labels = dataset_manifest(dataset, range(len(dataset)))
        except Exception:  # folders gone, or a dataset that cannot be built here
            return None
        return manifest_digest(paths, labels)
    from ..datasets import collect_set
    samples, problems = collect_set(source.spec, source.split == 'id_test', num_classes)
    if problems:
        return None
    max_per_set = source.identity.get('max_per_set')
    if max_per_set:
        samples = samples[:max_per_set]
    return manifest_digest([p for p, _ in samples], [lab for _, lab in samples])


class FeatureSplit:
    """The cached sets of the test dataset, in dataset order.

    Args:
        sets: one :class:`CachedSet` per set, in set-id order (ID first).
    """

    def __init__(self, sets: Sequence[CachedSet]):
        if not sets or sets[0].source.split != 'id_test':
            raise ValueError('A FeatureSplit starts with the ID test set')
        self.sets = list(sets)
        self.set_names = [s.source.name for s in self.sets]
        self.set_groups = [s.source.group for s in self.sets]
        self.labels = np.concatenate([s.labels for s in self.sets])
        self.set_ids = np.concatenate([np.full(s.num_samples, s.source.set_id, dtype=np.int64) for s in self.sets])
        self._bounds = np.cumsum([0] + [s.num_samples for s in self.sets])

    def __len__(self) -> int:
        return int(self._bounds[-1])

    @property
    def kinds(self) -> List[str]:
        return list(self.sets[0].feats)

    def rows(self, kind: str, start: int, stop: int) -> np.ndarray:
        """Rows ``[start, stop)`` of one kind across set boundaries, as a float32 array."""
        parts = []
        for s, cset in enumerate(self.sets):
            lo, hi = max(start, self._bounds[s]), min(stop, self._bounds[s + 1])
            if lo < hi:
                parts.append(cset.feats[kind][lo - self._bounds[s]:hi - self._bounds[s]])
        if not parts:
            shape = self.sets[0].feats[kind].shape[1:]
            return np.zeros((0, ) + tuple(shape), dtype=np.float32)
        return np.array(np.concatenate(parts) if len(parts) > 1 else parts[0], dtype=np.float32)  # a writable copy

    def iter_batches(self, kinds: Sequence[str], batch_size: int, device: Any = 'cpu'
                     ) -> Iterator[Dict[str, torch.Tensor]]:
        """Yield ``{kind: float32 tensor}`` for consecutive batches of ``batch_size`` rows."""
        for start in range(0, len(self), int(batch_size)):
            stop = min(len(self), start + int(batch_size))
            yield {k: torch.from_numpy(self.rows(k, start, stop)).to(device) for k in kinds}


def _extract_command(config: Optional[str], splits: Sequence[str], kinds: Sequence[str],
                     cache_dir: Optional[str], extra_args: Sequence[str] = ()) -> str:
    """The extraction command for what is missing, with the user's own arguments (checkpoint in ``config``, e.g.
    ``'CONFIG CHECKPOINT'``; ``extra_args`` such as ``--cfg-options ...``), so it extracts for the same model."""
    cmd = f'python tools/extract_features.py {config or "CONFIG"} --splits {" ".join(splits)} --kinds ' \
          f'{" ".join(kinds)}'
    if cache_dir:
        cmd += f' --cache-dir {shlex.quote(cache_dir)}'
    if extra_args:
        cmd += ' ' + ' '.join(shlex.quote(a) for a in extra_args)
    return cmd


def load_eval_split(cfg: Any, model_id: Dict[str, Any], cache: CacheStore, kinds: Sequence[str],
                    config_path: Optional[str] = None, verify_manifest: bool = True,
                    num_classes: Optional[int] = None, extra_args: Sequence[str] = ()) -> FeatureSplit:
    """Find the cached features of every set of ``cfg.test_dataloader.dataset``.

    Args:
        cfg: the config.
        model_id: from :func:`~mmood.features.identity.model_identity`.
        cache: the cache store.
        kinds: feature kinds needed.
        config_path: used in the error message's command (``'CONFIG'`` or ``'CONFIG CHECKPOINT'``).
        verify_manifest: when the images are still there, rescan each set and refuse a cache extracted from a
            different file list.
        num_classes: ID class count (for the ID rescan).
        extra_args: the user's other arguments (``--cfg-options ...``), repeated in the suggested commands.

    Raises:
        MissingFeaturesError: with the command that extracts what is missing.
    """
    sources = eval_set_sources(cfg.test_dataloader.dataset)
    found, missing = [], []
    for source in sources:
        try:
            found.append(find_set_features(cache, model_id, source, kinds))
        except MissingFeaturesError as err:
            missing.extend(err.missing)
    if missing:
        splits = sorted({m[1] for m in missing}, key=['id_test', 'ood'].index)
        depends = (' These features depend on the checkpoint given with the config (it holds trained image-tower '
                   'weights): features extracted without it, or with another one, are not used.'
                   if model_id.get('checkpoint') else '')
        raise MissingFeaturesError(
            f'Missing cached features in {cache.root} for {[(m[0], m[2]) for m in missing]} (for this model, '
            f'preprocessing and data).{depends} Extract them once with\n  '
            f'{_extract_command(config_path, splits, sorted({m[2] for m in missing}), cache.root, extra_args)}\n'
            f'or run tools/test.py {config_path or "CONFIG"} --save-features'
            f'{"".join(" " + shlex.quote(a) for a in extra_args)}.', missing)
    if verify_manifest:
        for cset in found:
            now = current_manifest_digest(cset.source, num_classes)
            if now is None:
                print_log(f'Images of "{cset.source.name}" not found; using the manifest stored with its features.',
                          logger='current', level=logging.INFO)
            elif now != cset.manifest_digest:
                raise MissingFeaturesError(
                    f'The files of "{cset.source.name}" changed since its features were extracted (manifest '
                    f'{cset.manifest_digest} != {now}). Extract again:\n  '
                    f'{_extract_command(config_path, [cset.source.split], kinds, cache.root, extra_args)}',
                    [(cset.source.name, cset.source.split, k) for k in kinds])
    return FeatureSplit(found)


def load_train_set(cfg: Any, model_id: Dict[str, Any], cache: CacheStore, kinds: Sequence[str],
                   config_path: Optional[str] = None, purpose: str = 'this method',
                   verify_manifest: bool = False, extra_args: Sequence[str] = ()) -> CachedSet:
    """Find the cached ID-train features of ``cfg.id_train_dataloader``.

    Raises:
        MissingFeaturesError: no ``id_train_dataloader`` in the config, or its features are not cached; the message
            gives the command to run.
    """
    if cfg.get('id_train_dataloader') is None:
        raise MissingFeaturesError(
            f'{purpose} needs ID-train features, but the config has no `id_train_dataloader`. Add one (a labelled '
            f'dataset of ID training images with the test pipeline, e.g. dict(batch_size=256, num_workers=8, '
            f"dataset=dict(type='CustomDataset', data_root='data/imagenet/train', pipeline=test_pipeline))), then "
            f'run\n  {_extract_command(config_path, ["id_train"], kinds, cache.root, extra_args)}',
            [('ID-train', 'id_train', k) for k in kinds])
    source = train_set_source(cfg.id_train_dataloader.dataset)
    try:
        cset = find_set_features(cache, model_id, source, kinds)
    except MissingFeaturesError as err:
        raise MissingFeaturesError(
            f'{purpose} needs ID-train features ({", ".join(kinds)}), which are not cached in {cache.root}. '
            f'Extract them once with\n  {_extract_command(config_path, ["id_train"], kinds, cache.root, extra_args)}',
            err.missing) from None
    if verify_manifest:
        now = current_manifest_digest(source)
        if now is not None and now != cset.manifest_digest:
            raise MissingFeaturesError(
                f'The ID-train files changed since their features were extracted. Extract again:\n  '
                f'{_extract_command(config_path, ["id_train"], kinds, cache.root, extra_args)}',
                [(source.name, 'id_train', k) for k in kinds])
    return cset
