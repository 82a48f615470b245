"""Resumable, sharded, multi-process extraction of image features into the cache.

For each requested set (:class:`~mmood.features.identity.SetSource`) and feature kind the result is one cache
entry (namespace ``features``) with the arrays

* ``feats``: (N, D) for ``global`` / ``pre_proj``, (N, P, D) for ``local``; float32 or float16;
* ``labels``: (N,) int64 class labels (-1 for OOD sets);
* ``paths_utf8`` / ``paths_offsets``: the file paths (the manifest), see
  :func:`~mmood.features.identity.encode_strings`;

and a ``meta.json`` naming the set, split, kind, storage dtype, manifest digest, what made it and the key parts.

**Resumable.** The samples of a set are cut into fixed shards of ``shard_size`` (independent of the number of
processes); each finished shard is saved at once (atomic rename) under
:meth:`~mmood.cache.CacheStore.partial_dir`, a folder named from everything the shards depend on (model, pipeline,
set, storage, file list, shard size). A killed run leaves its finished shards there and the next run of the same
work computes only the missing ones. When every shard exists, rank 0 assembles the entries (streamed through
memory-mapped arrays, so local features larger than memory are fine) and removes the shards.

**Concurrent runs.** While a run extracts entries it holds their :meth:`~mmood.cache.CacheStore.lock` (rank 0 for
the whole run; a killed run's locks go with its process). Another run that wants one of them waits (a log line
names the holder), then looks in the cache again: it uses what the first run committed, or extracts what is still
missing -- resuming from the shards left there, which are its own work by the folder's name. So two runs never
write the same shards or commit over each other's half-written work, and each commit is one atomic rename.

**Multi-process.** Shard ``s`` belongs to rank ``s mod world_size``; each rank writes its shards, a barrier
waits for all of them, rank 0 assembles. Batches never cross shard boundaries, so every image is encoded in the
same batch whatever the number of processes, and the result equals a one-process run.
"""
import glob
import logging
import os
import os.path as osp
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.dist import barrier, broadcast_object_list, get_dist_info
from mmengine.logging import print_log

from ..cache import CacheLock, CacheStore, canonical, make_key
from ..utils.errors import DataError
from ..utils.workers import resolve_workers
from .identity import (FEATURE_NAMESPACE, STORAGE_DTYPES, SetSource, encode_strings, feature_key_parts,
                       manifest_digest, model_identity)

__all__ = ['extract_features', 'set_indices', 'dataset_manifest', 'commit_feature_entry', 'FeatureEntryWriter']


def set_indices(dataset: Any, source: SetSource) -> np.ndarray:
    """Indices of ``dataset`` belonging to ``source`` (its ``set_id`` for test sets; all for ``id_train``)."""
    if source.split == 'id_train':
        return np.arange(len(dataset), dtype=np.int64)
    ids = np.array([int(dataset.get_data_info(i)['set_id']) for i in range(len(dataset))], dtype=np.int64)
    return np.flatnonzero(ids == source.set_id).astype(np.int64)


def _label_of(info: dict) -> int:
    label = info.get('gt_label', -1)
    return int(np.asarray(label).reshape(-1)[0]) if np.asarray(label).size else -1


def dataset_manifest(dataset: Any, indices: Sequence[int]) -> Tuple[List[str], np.ndarray]:
    """(file paths, int64 labels) of the given samples, from the dataset's annotations (no image is read)."""
    paths, labels = [], []
    for i in indices:
        info = dataset.get_data_info(int(i))
        paths.append(str(info.get('img_path', '')))
        labels.append(_label_of(info))
    return paths, np.asarray(labels, dtype=np.int64)


class FeatureEntryWriter:
    """Write one feature entry: fill the memory-mapped :attr:`feats`, then :meth:`commit` (atomic).

    Args:
        cache: the cache store.
        parts: key parts from :func:`~mmood.features.identity.feature_key_parts`.
        source: the set.
        shape: shape of ``feats`` (N first).
        labels: (N,) labels.
        paths: N file paths (the manifest).
        made_by: provenance shown by ``tools/cache.py`` (tool and config).
    """

    def __init__(self, cache: CacheStore, parts: Dict[str, Any], source: SetSource, shape: Tuple[int, ...],
                 labels: np.ndarray, paths: Sequence[str], made_by: str = ''):
        self.key = make_key(parts)
        backbone = parts['model']['backbone']
        self.meta = dict(set_name=source.name, split=source.split, group=source.group, feature=parts['feature'],
                         storage=parts['storage'], num_samples=int(shape[0]), feature_shape=list(shape[1:]),
                         manifest_digest=manifest_digest(paths, labels), made_by=made_by,
                         model=backbone.get('model_name'), pretrained=backbone.get('pretrained'),
                         key_parts=canonical(parts))
        # replace: an entry is only written when the one under the key is unusable (forced re-extraction, another
        # file list, a test run's own features)
        self._writer = cache.writer(FEATURE_NAMESPACE, self.key, replace=True)
        try:
            self.feats = self._writer.create_array('feats', shape, parts['storage'])
            self._writer.add_array('labels', np.asarray(labels, dtype=np.int64))
            data, offsets = encode_strings(paths)
            self._writer.add_array('paths_utf8', data)
            self._writer.add_array('paths_offsets', offsets)
        except BaseException:
            self._writer.abort()
            raise

    def commit(self) -> str:
        self.feats = None
        return self._writer.commit(self.meta)

    def abort(self) -> None:
        self.feats = None
        self._writer.abort()


def commit_feature_entry(cache: CacheStore, parts: Dict[str, Any], source: SetSource, shape: Tuple[int, ...],
                         fill: Callable[[np.ndarray], None], labels: np.ndarray, paths: Sequence[str],
                         made_by: str = '') -> str:
    """Write one feature entry atomically; ``fill`` receives the writable memory map of ``feats``.

    Returns:
        The entry directory.
    """
    writer = FeatureEntryWriter(cache, parts, source, shape, labels, paths, made_by)
    try:
        fill(writer.feats)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


def _shard_file(pdir: str, shard: int, kind: str) -> str:
    return osp.join(pdir, f'shard_{shard:06d}.{kind}.npy')


def _remove_shards(pdir: str, kinds: Sequence[str]) -> None:
    """Delete the shards of ``kinds`` (and temporary files a killed run left) from ``pdir``; the folder goes when
    empty (shards of other kinds may belong to another run, which holds their locks)."""
    for kind in kinds:
        for file in glob.glob(osp.join(glob.escape(pdir), f'shard_*.{kind}.*npy')):
            try:
                os.remove(file)
            except FileNotFoundError:
                pass
    try:
        os.rmdir(pdir)
    except OSError:
        pass


#: seconds between two looks at a lock held by another run (all ranks of a distributed run look together)
LOCK_POLL_S = 0.5


def _lock_entries(cache: CacheStore, keys: Sequence[str], what: str) -> List[CacheLock]:
    """Take the locks of the entries ``keys`` (rank 0 holds them; every rank returns when they are held), waiting
    while another run holds one. Locks are taken in key order (no deadlock between runs). Waiting is polling: the
    other ranks of a distributed run do not sit in a barrier meanwhile, and each look opens the lock file anew (a
    released lock whose descriptor lives on in a forked child of its holder, such as a data-loading worker, does
    not keep anyone waiting)."""
    rank, world_size = get_dist_info()
    locks = [cache.lock(FEATURE_NAMESPACE, key) for key in sorted(set(keys))] if rank == 0 else []
    told = False
    while True:
        state = [None]
        if rank == 0:
            for lock in locks:
                if not lock.held and not lock.acquire(blocking=False):
                    state = [lock.holder() or 'another process']
                    break
        if world_size > 1:
            broadcast_object_list(state)
        if state[0] is None:
            return locks
        if rank == 0 and not told:
            print_log(f'{what}: another run ({state[0]}) is extracting these features into {cache.root}; waiting '
                      f'for it, then using what it cached.', logger='current', level=logging.WARNING)
            told = True
        time.sleep(LOCK_POLL_S)


def _release(locks: Sequence[CacheLock]) -> None:
    for lock in locks:
        lock.release()


def _valid_shard(file: str, count: int) -> bool:
    try:
        arr = np.load(file, mmap_mode='r', allow_pickle=False)
        return arr.shape[0] == count
    except (OSError, ValueError):
        return False


def _save_atomic(file: str, arr: np.ndarray) -> None:
    """Write ``file`` whole or not at all (a temporary file of its own, then a rename). The shard folder is made
    again if a run extracting other kinds of the set removed it the moment it was empty."""
    for attempt in range(3):
        tmp = f'{file[:-4]}.tmp-{uuid.uuid4().hex[:8]}.npy'
        try:
            os.makedirs(osp.dirname(file), exist_ok=True)
            np.save(tmp, arr, allow_pickle=False)
            os.replace(tmp, file)
            return
        except FileNotFoundError:
            if attempt == 2:
                raise


def extract_features(model: Any,
                     dataset: Any,
                     sources: Sequence[SetSource],
                     kinds: Sequence[str],
                     cache: CacheStore,
                     storage: str = 'float32',
                     batch_size: int = 64,
                     num_workers: int = 0,
                     shard_size: int = 2048,
                     checkpoint: Optional[str] = None,
                     made_by: str = '',
                     progress: bool = True,
                     force: bool = False,
                     shard_callback: Optional[Callable[[SetSource, int], None]] = None) -> List[Dict[str, Any]]:
    """Extract (or find) the features of each set and kind; every rank of a distributed run calls this.

    Args:
        model: a ``CLIPOODClassifier`` (its ``data_preprocessor`` and ``backbone`` are used), on its device.
        dataset: the built dataset the sources index into (the test ``OODEvalDataset`` or the ID-train dataset).
        sources: the sets to extract (from :func:`~mmood.features.identity.eval_set_sources` or
            :func:`~mmood.features.identity.train_set_source`).
        kinds: feature kinds (``global``, ``local``, ``pre_proj``).
        cache: the cache store.
        storage: ``'float32'`` or ``'float16'`` (halves the disk size; scores then differ in the last digits).
        batch_size: images per forward pass.
        num_workers: data-loading worker processes (``'auto'``: from the CPU count,
            :func:`~mmood.utils.resolve_workers`).
        shard_size: images per shard (the unit of resumption and of work division between ranks).
        checkpoint: a checkpoint loaded into ``model`` on top of the open_clip weights (part of the key).
        made_by: provenance written into ``meta.json``.
        progress: show a tqdm progress bar (rank 0).
        force: extract again even when a valid entry exists.
        shard_callback: called as ``shard_callback(source, shard)`` after each shard is saved (tests, logging).

    Returns:
        One dict per (set, kind): ``set``, ``split``, ``kind``, ``key``, ``status`` (``'cached'``: found, also
        when a concurrent run committed it while this one waited for it; or ``'extracted'``), ``num_samples`` and
        ``path``.
    """
    from ..models.backbones.open_clip_backbone import FEATURE_KINDS
    kinds = list(dict.fromkeys(kinds))
    unknown = sorted(set(kinds) - set(FEATURE_KINDS))
    if unknown or not kinds:
        raise ValueError(f'Unknown feature kinds {unknown}; choose from {FEATURE_KINDS}')
    if storage not in STORAGE_DTYPES:
        raise ValueError(f'storage must be one of {STORAGE_DTYPES}, got {storage!r}')
    if int(shard_size) < 1 or int(batch_size) < 1:
        raise ValueError('shard_size and batch_size must be >= 1')
    model_id = model_identity(model, checkpoint)
    report = []
    for source in sources:
        indices = set_indices(dataset, source)
        if indices.size == 0:
            raise ValueError(f'Set "{source.name}" has no samples in the dataset')
        paths, labels = dataset_manifest(dataset, indices)
        digest = manifest_digest(paths, labels)
        todo = []
        for kind in kinds:
            parts = feature_key_parts(model_id, source, kind, storage)
            key = make_key(parts)
            found = None if force else cache.load(FEATURE_NAMESPACE, key, mmap=True)
            if found is not None and found[1].get('manifest_digest') == digest:
                report.append(dict(set=source.name, split=source.split, kind=kind, key=key, status='cached',
                                   num_samples=int(indices.size), path=cache.entry_dir(FEATURE_NAMESPACE, key)))
                continue
            if found is not None:
                print_log(f'Cached {kind} features of "{source.name}" were extracted from a different file list '
                          f'(manifest {found[1].get("manifest_digest")} != {digest}); extracting again.',
                          logger='current', level=logging.WARNING)
            todo.append((kind, parts, key))
        if not todo:
            continue
        extracted = _extract_source(model, dataset, source, indices, labels, paths, digest, todo, cache, storage,
                                    int(batch_size), resolve_workers(num_workers), int(shard_size), made_by,
                                    progress, shard_callback, force)
        for kind, _, key in todo:
            report.append(dict(set=source.name, split=source.split, kind=kind, key=key,
                               status='extracted' if kind in extracted else 'cached',
                               num_samples=int(indices.size), path=cache.entry_dir(FEATURE_NAMESPACE, key)))
    return report


def _extract_source(model, dataset, source, indices, labels, paths, digest, todo, cache, storage, batch_size,
                    num_workers, shard_size, made_by, progress, shard_callback, force) -> List[str]:
    """Under the locks of the entries: compute this rank's missing shards of one set, then (rank 0) assemble one
    entry per kind. Returns the kinds extracted (others were committed meanwhile by a run this one waited for)."""
    locks = _lock_entries(cache, [key for _, _, key in todo], f'"{source.name}" ({", ".join(k for k, _, _ in todo)})')
    try:
        if not force:  # a run we waited for may have cached some of them
            state = [None]
            if get_dist_info()[0] == 0:
                state = [[k for k, _, key in todo if not _cached(cache, key, digest)]]
            broadcast_object_list(state)
            todo = [t for t in todo if t[0] in state[0]]
        if todo:
            _extract_locked(model, dataset, source, indices, labels, paths, digest, todo, cache, storage,
                            batch_size, num_workers, shard_size, made_by, progress, shard_callback, force)
        return [kind for kind, _, _ in todo]
    finally:
        _release(locks)


def _cached(cache: CacheStore, key: str, digest: str) -> bool:
    found = cache.load(FEATURE_NAMESPACE, key, mmap=True)
    return found is not None and found[1].get('manifest_digest') == digest


def _extract_locked(model, dataset, source, indices, labels, paths, digest, todo, cache, storage, batch_size,
                    num_workers, shard_size, made_by, progress, shard_callback, force) -> None:
    """:func:`_extract_source` once the entries' locks are held: no other live run writes these shards."""
    from ..datasets import stack_collate
    rank, world_size = get_dist_info()
    first_parts = todo[0][1]
    partial_key = make_key(dict({k: v for k, v in first_parts.items() if k != 'feature'}, manifest=digest,
                                shard_size=shard_size))
    pdir = cache.partial_dir(FEATURE_NAMESPACE, partial_key)
    if force:  # start over: shards of an interrupted run are not reused either
        if rank == 0:
            _remove_shards(pdir, [kind for kind, _, _ in todo])
        barrier()
    os.makedirs(pdir, exist_ok=True)
    num = int(indices.size)
    num_shards = (num + shard_size - 1) // shard_size
    kinds = [kind for kind, _, _ in todo]

    def shard_slice(s):
        return indices[s * shard_size:min(num, (s + 1) * shard_size)]

    need = {}
    for s in range(rank, num_shards, world_size):
        count = len(shard_slice(s))
        missing = [k for k in kinds if not _valid_shard(_shard_file(pdir, s, k), count)]
        if missing:
            need[s] = missing
    batches = []
    for s, missing in need.items():
        sidx = shard_slice(s)
        for b in range(0, len(sidx), batch_size):
            batches.append((s, [int(i) for i in sidx[b:b + batch_size]]))
    mine = len(range(rank, num_shards, world_size))
    if mine > len(need):
        print_log(f'"{source.name}" (rank {rank}): resuming, {mine - len(need)} of {mine} shards already '
                  f'extracted.', logger='current')

    if batches:
        loader = torch.utils.data.DataLoader(dataset, batch_sampler=[b for _, b in batches],
                                             num_workers=num_workers, collate_fn=stack_collate,
                                             pin_memory=torch.cuda.is_available())
        bar = None
        if progress and rank == 0:
            from tqdm import tqdm
            bar = tqdm(total=sum(len(b) for _, b in batches), desc=f'{source.name} features', unit='img')
        buffers: Dict[str, List[np.ndarray]] = {}
        model.eval()
        with torch.no_grad():
            for pos, ((s, batch), data) in enumerate(zip(batches, loader)):
                unreadable = [str(d.img_path) for d in data.get('data_samples') or [] if 'unreadable' in d]
                if unreadable:
                    raise DataError(f'Cannot cache features of unreadable images (skip_unreadable=True gives them '
                                    f'stand-ins): {unreadable[:3]}. Fix or remove them (tools/verify_data.py lists '
                                    f'them all) and extract again.')
                data = model.data_preprocessor(data, False)
                feats = model.backbone.extract_image_features(data['inputs'], need[s])
                for k in need[s]:
                    buffers.setdefault(k, []).append(feats[k].detach().cpu().numpy().astype(storage))
                if bar is not None:
                    bar.update(len(batch))
                if pos + 1 == len(batches) or batches[pos + 1][0] != s:
                    for k in need[s]:
                        _save_atomic(_shard_file(pdir, s, k), np.concatenate(buffers[k]))
                    buffers = {}
                    if shard_callback is not None:
                        shard_callback(source, s)
        if bar is not None:
            bar.close()
    barrier()
    if rank == 0:
        for kind, parts, _ in todo:
            first = np.load(_shard_file(pdir, 0, kind), mmap_mode='r', allow_pickle=False)
            shape = (num, ) + tuple(first.shape[1:])

            def fill(out, kind=kind):
                for s in range(num_shards):
                    arr = np.load(_shard_file(pdir, s, kind), mmap_mode='r', allow_pickle=False)
                    start = s * shard_size
                    if arr.shape != (min(num, start + shard_size) - start, ) + shape[1:]:
                        raise RuntimeError(f'Shard {s} of "{source.name}" ({kind}) has shape {arr.shape}; remove '
                                           f'{pdir} and extract again.')
                    out[start:start + arr.shape[0]] = arr

            commit_feature_entry(cache, parts, source, shape, fill, labels, paths, made_by)
        _remove_shards(pdir, kinds)
        print_log(f'"{source.name}": {num} images, {", ".join(kinds)} features ({storage}) cached in '
                  f'{cache.root}.', logger='current')
    barrier()
