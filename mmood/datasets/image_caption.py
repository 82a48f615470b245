"""Image-caption pairs for contrastive training (CLIPN's CC3M) from webdataset tar shards or a TSV file.

:class:`ImageCaptionDataset` is a map-style mmengine dataset, so mmengine's ``DefaultSampler`` partitions it over
processes and a resumed run sees the same samples as an uninterrupted one.

* **Tar shards** as img2dataset writes them (``gcc-train-00000.tar`` ...): members ``<key>.jpg`` (or another image
  extension) and ``<key>.txt`` (the caption), plus members that are ignored (``<key>.json``). Members are grouped by
  key as webdataset groups them: the member name up to the first dot of its file name (``00001.jpg`` ->
  ``00001``; ``part/00001.jpg`` -> ``part/00001``). The index -- per sample the shard, the byte offset and size of
  its image member, and the caption -- is built once (a progress bar over the shards) and cached through
  :class:`~mmood.cache.CacheStore`, keyed by every shard's path, size and mtime and the index options. Loading a
  sample reads ``size`` bytes at ``offset`` of its shard (no tar parsing) into ``results['img_bytes']``, which
  :class:`~mmood.datasets.LoadOODImage` decodes.
* **A TSV file**: ``path<TAB>caption`` per line, paths relative to ``data_prefix['img_path']`` / ``data_root`` or
  absolute; images are loaded from files (``img_path``).

Nothing goes silently missing: samples without a caption or an image member are dropped when the index is built
and counted (:attr:`ImageCaptionDataset.skipped`, logged); a damaged (cut-off) shard is indexed as far as it can be
read, with a warning naming it (:attr:`ImageCaptionDataset.damaged_shards`); an image that cannot be read at
training time is replaced by the next sample (index + 1, deterministic in every process), counted
(:attr:`ImageCaptionDataset.unreadable`) and named in a warning. ``tools/verify_data.py`` decodes every image
through :meth:`ImageCaptionDataset.data_problems`.
"""
import copy
import glob
import logging
import os
import os.path as osp
import re
import tarfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmpretrain.registry import DATASETS

from ..cache import CacheStore, file_identity
from ..utils.dist import compute_on_main
from ..utils.errors import ConfigError, DataError
from .transforms import LoadOODImage, decode_image, unreadable_images

__all__ = ['ImageCaptionDataset', 'expand_braces', 'resolve_shards', 'index_shard', 'split_member_name']

#: image member extensions tried in this order (the first present is the sample's image)
IMAGE_EXTS = ('jpg', 'jpeg', 'png', 'webp')
#: cache namespace of the shard indexes
INDEX_NAMESPACE = 'image_caption_index'
#: bump when the index layout or the indexing rules change (part of the cache key)
INDEX_VERSION = 1
_SKIP_KINDS = ('no_caption', 'no_image', 'truncated')
_GLOB_CHARS = re.compile(r'[*?\[]')
_RANGE = re.compile(r'(-?\d+)\.\.(-?\d+)')


# ---------------------------------------------------------------------------------------------------- shard lists
def _split_top_level(body: str) -> List[str]:
    """``body`` split at the commas that are not inside nested braces."""
    parts, depth, start = [], 0, 0
    for pos, char in enumerate(body):
        if char == '{':
            depth += 1
        elif char == '}':
            depth -= 1
        elif char == ',' and depth == 0:
            parts.append(body[start:pos])
            start = pos + 1
    parts.append(body[start:])
    return parts


def expand_braces(pattern: str) -> List[str]:
    """Expand shell-style braces: numeric ranges ``{00000..00331}`` (zero-padded to the wider bound when a bound
    has a leading zero) and alternatives ``{a,b}``, nested and repeated, left to right.

    Args:
        pattern: e.g. ``'data/cc3m/gcc-train-{00000..00331}.tar'``.

    Returns:
        The expanded strings in order (the pattern itself when it has no braces; a brace group without a range or
        a comma is kept literally).

    Raises:
        ConfigError: unbalanced braces.
    """
    start = pattern.find('{')
    if start < 0:
        if '}' in pattern:
            raise ConfigError(f'Unbalanced "}}" in shard pattern {pattern!r}')
        return [pattern]
    depth = 0
    for end in range(start, len(pattern)):
        if pattern[end] == '{':
            depth += 1
        elif pattern[end] == '}':
            depth -= 1
            if depth == 0:
                break
    else:
        raise ConfigError(f'Unbalanced "{{" in shard pattern {pattern!r}')
    head, body, tail = pattern[:start], pattern[start + 1:end], pattern[end + 1:]
    bounds = _RANGE.fullmatch(body)
    if bounds:
        first, last = bounds.groups()
        padded = any(len(b.lstrip('-')) > 1 and b.lstrip('-').startswith('0') for b in (first, last))
        width = max(len(first), len(last)) if padded else 0
        step = 1 if int(last) >= int(first) else -1
        options = [str(i).zfill(width) for i in range(int(first), int(last) + step, step)]
    else:
        options = _split_top_level(body)
        if len(options) == 1:  # "{x}": not a brace expression, kept as written
            return [head + '{' + body + '}' + rest for rest in expand_braces(tail)]
    return [out for option in options for out in expand_braces(head + option + tail)]


def resolve_shards(shards: Union[str, Sequence[str]], data_root: str = '') -> Tuple[List[str], List[str]]:
    """The shard files of a ``shards`` option: braces expanded, globs matched (sorted), relative paths joined with
    ``data_root``.

    Args:
        shards: a path, brace pattern or glob, or a list of them.
        data_root: base of relative paths.

    Returns:
        ``(existing, missing)``: the existing files in the given order (duplicates dropped) and the listed paths
        that do not exist (a glob that matched nothing is listed as its pattern).
    """
    items = [shards] if isinstance(shards, str) else list(shards)
    existing, missing, seen = [], [], set()
    for item in items:
        for path in expand_braces(osp.expanduser(str(item))):
            if data_root and not osp.isabs(path):
                path = osp.join(data_root, path)
            found = sorted(glob.glob(path)) if _GLOB_CHARS.search(path) else [path]
            if not found or not all(osp.isfile(p) for p in found):
                missing.extend(p for p in (found or [path]) if not osp.isfile(p))
            for p in found:
                if osp.isfile(p) and p not in seen:
                    seen.add(p)
                    existing.append(p)
    return existing, missing


# ---------------------------------------------------------------------------------------------------- one shard
def split_member_name(name: str) -> Tuple[Optional[str], str]:
    """A tar member name as webdataset splits it: ``(key, extension)``, the key being the folder plus the file name
    up to its first dot and the extension the rest (``'a/00001.seg.png'`` -> ``('a/00001', 'seg.png')``).

    Returns:
        ``(None, '')`` for names without an extension or with an empty stem (``.hidden``): not part of a sample.
    """
    folder, _, base = name.rpartition('/')
    stem, dot, ext = base.partition('.')
    if not dot or not stem or not ext:
        return None, ''
    return (f'{folder}/{stem}' if folder else stem), ext


def _walk_members(path: str) -> Tuple[Dict[str, Dict[str, Tuple[str, int, int]]], int, Optional[str]]:
    """Read the member headers of an uncompressed tar: ``(groups, end, problem)`` with ``groups`` key -> extension
    -> ``(member name, data offset, data size)`` in order of first appearance, ``end`` the byte where reading
    stopped and ``problem`` why it stopped early (None when the archive ended properly)."""
    groups: Dict[str, Dict[str, Tuple[str, int, int]]] = {}
    try:
        archive = tarfile.open(path, mode='r:')
    except (tarfile.TarError, OSError, EOFError) as err:
        return groups, 0, f'not a readable uncompressed tar archive ({type(err).__name__}: {err})'
    problem = None
    with archive:
        while True:
            try:
                member = archive.next()
            except (tarfile.TarError, OSError, EOFError) as err:
                problem = f'cut off: cannot read past byte {archive.offset} ({type(err).__name__}: {err})'
                break
            if member is None:
                break
            if member.isfile():
                key, ext = split_member_name(member.name)
                if key is not None:
                    groups.setdefault(key, {})[ext.lower()] = (member.name, member.offset_data, member.size)
        end = archive.offset
    return groups, end, problem


def _trailer_problem(path: str, end: int, file_size: int) -> Optional[str]:
    """Why the bytes after the last member are not a tar end-of-archive marker (two or more zero blocks), or None.
    tarfile stops silently at a cut or garbled header; this finds it."""
    remaining = file_size - end
    if remaining > 1 << 20:
        return f'unreadable member header at byte {end} of {file_size}: the rest of the shard is not indexed'
    with open(path, 'rb') as f:
        f.seek(end)
        trailer = f.read(remaining)
    if trailer.strip(b'\0'):
        return f'unreadable member header at byte {end} of {file_size}: the rest of the shard is not indexed'
    if remaining < 1024:
        return f'no end-of-archive marker after byte {end}: cut off at a member boundary?'
    return None


def index_shard(path: str, image_exts: Sequence[str] = IMAGE_EXTS, caption_ext: str = 'txt') -> Dict[str, Any]:
    """Index one webdataset tar shard.

    A sample is a key with an image member (the first of ``image_exts`` present) and a non-empty caption member
    (``<key>.<caption_ext>``, UTF-8, stripped). A shard that cannot be read to its end is indexed as far as it can
    be read.

    Args:
        path: the shard file (uncompressed tar).
        image_exts: image extensions in order of preference (lower case, no dot).
        caption_ext: extension of the caption member.

    Returns:
        Dict with ``offset`` and ``size`` (int64 arrays: the image members' data), ``members`` (their names),
        ``captions``, ``skipped`` (counts: ``no_caption``, ``no_image``, ``truncated`` = samples whose members
        were cut off) and ``problem`` (why the shard could not be read to its end, or None).
    """
    file_size = os.path.getsize(path)
    groups, end, problem = _walk_members(path)
    if problem is None and groups:
        problem = _trailer_problem(path, end, file_size)
    exts = tuple(e.lower().lstrip('.') for e in image_exts)
    caption_ext = caption_ext.lower().lstrip('.')
    offsets, sizes, members, captions = [], [], [], []
    skipped = dict.fromkeys(_SKIP_KINDS, 0)
    keys = list(groups)
    with open(path, 'rb') as f:
        for pos, key in enumerate(keys):
            found = groups[key]
            image = next((found[e] for e in exts if e in found), None)
            caption = found.get(caption_ext)
            cut = any(m[1] + m[2] > file_size for m in (image, caption) if m is not None)
            if cut or (problem and pos == len(keys) - 1 and (image is None or caption is None)):
                skipped['truncated'] += 1  # the last sample of a damaged shard: its missing members were cut off
                continue
            if image is None:
                skipped['no_image'] += 1
                continue
            if caption is None:
                skipped['no_caption'] += 1
                continue
            f.seek(caption[1])
            raw = f.read(caption[2])
            if len(raw) < caption[2]:
                skipped['truncated'] += 1
                continue
            text = raw.decode('utf-8', errors='replace').strip()
            if not text:
                skipped['no_caption'] += 1
                continue
            offsets.append(image[1])
            sizes.append(image[2])
            members.append(image[0])
            captions.append(text)
    return dict(offset=np.asarray(offsets, dtype=np.int64), size=np.asarray(sizes, dtype=np.int64),
                members=members, captions=captions, skipped=skipped, problem=problem)


# ---------------------------------------------------------------------------------------------------- string arrays
def _pack_strings(strings: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """Strings as one UTF-8 byte array and the end offset of each (no pickled objects, memory-mappable)."""
    encoded = [s.encode('utf-8') for s in strings]
    ends = np.cumsum([len(b) for b in encoded], dtype=np.int64) if encoded else np.zeros(0, np.int64)
    return np.frombuffer(b''.join(encoded), dtype=np.uint8).copy(), ends


def _string_at(data: np.ndarray, ends: np.ndarray, row: int) -> str:
    start = int(ends[row - 1]) if row else 0
    return data[start:int(ends[row])].tobytes().decode('utf-8')


def _in_dataloader_worker() -> bool:
    try:
        from torch.utils.data import get_worker_info
    except ImportError:  # pragma: no cover
        return False
    return get_worker_info() is not None


@DATASETS.register_module()
class ImageCaptionDataset(BaseDataset):
    """Image-caption pairs from webdataset tar shards (img2dataset layout) or a TSV file (module docstring).

    Each sample is a dict with ``text`` (the caption), ``img_path`` and ``sample_idx``; tar samples also carry
    ``tar_path``, ``tar_member``, ``tar_offset``, ``tar_size`` (``img_path`` is ``<tar_path>/<tar_member>``) and
    get the encoded image as ``img_bytes`` before the pipeline runs. There are no class labels (no ``gt_label``).
    Pipeline: ``LoadOODImage`` (decodes ``img_bytes`` or the file), augmentations, then
    ``PackInputs(algorithm_keys=('text', ))``.

    Args:
        shards: tar shards: a path, a brace pattern (``data/cc3m/gcc-train-{00000..00331}.tar``) or a glob, or a
            list of them; relative to ``data_root`` when it is set.
        tsv: a ``path<TAB>caption`` file instead (relative to ``data_root`` when it is set); image paths relative
            to ``data_prefix['img_path']`` (default ``data_root``) or absolute.
        tsv_header: the TSV file's first line is a header (skipped).
        image_exts: image member extensions, in order of preference.
        caption_ext: extension of the caption member.
        cache_dir: :class:`~mmood.cache.CacheStore` root for the shard index (None: built in memory each time).
        missing_shards: ``'error'`` (default) refuses shards that the option lists but that do not exist;
            ``'warn'`` leaves them out with a warning naming them.
        index_workers: processes indexing shards in parallel (0 or 1: in this process).
        progress: show a progress bar while indexing (main process only).
        max_listed: how many unreadable sample names :attr:`unreadable_samples` keeps.
        **kwargs: :class:`mmengine.dataset.BaseDataset` options (``data_root``, ``data_prefix``, ``pipeline``,
            ``indices``, ``lazy_init``, ``max_refetch``: the most consecutive samples tried for one index).

    Attributes:
        skipped: samples dropped while indexing: ``{'no_caption': n, 'no_image': m, 'truncated': k}``.
        damaged_shards: ``[(shard path, problem)]`` for shards that could not be read to their end.
        missing: shard paths left out because they do not exist (``missing_shards='warn'``).
        unreadable: images that could not be read in this process (each replaced by the next sample).
        unreadable_samples: the first ``max_listed`` of them, as ``img_path``.
        index_from_cache: whether the shard index was already cached (False when this run's main process built it).
    """

    def __init__(self,
                 shards: Union[str, Sequence[str], None] = None,
                 tsv: Optional[str] = None,
                 tsv_header: bool = False,
                 image_exts: Sequence[str] = IMAGE_EXTS,
                 caption_ext: str = 'txt',
                 cache_dir: Optional[str] = None,
                 missing_shards: str = 'error',
                 index_workers: int = 0,
                 progress: bool = True,
                 max_listed: int = 20,
                 lazy_init: bool = False,
                 **kwargs):
        if (shards is None) == (tsv is None) or (shards is not None and not shards) or tsv == '':
            raise ConfigError('ImageCaptionDataset needs exactly one of `shards` (webdataset tar shards) and `tsv` '
                              f'(a path<TAB>caption file); got shards={shards!r}, tsv={tsv!r}')
        if missing_shards not in ('error', 'warn'):
            raise ConfigError(f"`missing_shards` must be 'error' or 'warn', got {missing_shards!r}")
        self.image_exts = tuple(str(e).lower().lstrip('.') for e in image_exts)
        if not self.image_exts:
            raise ConfigError('`image_exts` is empty')
        self.shards_option = shards
        self.tsv = tsv
        self.tsv_header = bool(tsv_header)
        self.caption_ext = str(caption_ext).lower().lstrip('.')
        self.cache_dir = cache_dir
        self.missing_shards = missing_shards
        self.index_workers = int(index_workers)
        self.progress = progress
        self.max_listed = int(max_listed)
        self.shards: List[str] = []
        self.missing: List[str] = []
        self.skipped = dict.fromkeys(_SKIP_KINDS, 0)
        self.damaged_shards: List[Tuple[str, str]] = []
        self.index_from_cache = False
        self.unreadable = 0
        self.unreadable_samples: List[str] = []
        self._bad: set = set()
        self._arrays: Dict[str, np.ndarray] = {}
        self._rows = np.zeros(0, np.int64)
        kwargs.pop('serialize_data', None)  # the index is numpy arrays already: nothing to serialise
        super().__init__(lazy_init=True, serialize_data=False, **kwargs)
        self._check_pipeline()
        if not lazy_init:
            self.full_init()

    @property
    def mode(self) -> str:
        """``'shards'`` or ``'tsv'``."""
        return 'tsv' if self.tsv is not None else 'shards'

    def _check_pipeline(self) -> None:
        if self.mode != 'shards':
            return
        for step in self.pipeline.transforms:
            if isinstance(step, LoadImageFromFile) and not isinstance(step, LoadOODImage):
                raise ConfigError(f'{type(step).__name__} reads image files; tar shard samples come as bytes: load '
                                  f"them with dict(type='LoadOODImage') (ImageCaptionDataset)")

    def _root_join(self, path: str) -> str:
        path = osp.expanduser(path)
        return osp.join(self.data_root, path) if self.data_root and not osp.isabs(path) else path

    # ------------------------------------------------------------------------------------------------ indexing
    def full_init(self) -> None:
        """Build (or load) the index; apply ``indices``."""
        if self._fully_initialized:
            return
        if self.mode == 'shards':
            self._arrays = self._load_shard_index()
        else:
            self._arrays = self._load_tsv()
        rows = np.arange(len(self._arrays['caption_ends']), dtype=np.int64)
        if self._indices is not None:
            rows = self._select(rows, self._indices)
        if not len(rows):
            raise DataError(f'ImageCaptionDataset: no samples in {self._source()} (skipped: {self.skipped})')
        self._rows = rows
        self._bad = set()
        self._fully_initialized = True

    def _source(self) -> str:
        if self.mode == 'tsv':
            return self._root_join(self.tsv)
        return f'{len(self.shards)} shards ({self.shards_option})'

    def _resolve_shards(self) -> None:
        existing, missing = resolve_shards(self.shards_option, self.data_root)
        if not existing:
            raise DataError(f'ImageCaptionDataset: no shard file matches {self.shards_option!r}'
                            + (f' under data_root {self.data_root!r}' if self.data_root else ''))
        if missing and self.missing_shards == 'error':
            raise DataError(f'ImageCaptionDataset: {len(missing)} shard(s) of {self.shards_option!r} do not exist, '
                            f'e.g. {missing[:3]}; set missing_shards=\'warn\' to train on the others')
        if missing:
            print_log(f'ImageCaptionDataset: {len(missing)} listed shard(s) do not exist and are left out, e.g. '
                      f'{missing[:3]}', logger='current', level=logging.WARNING)
        self.shards, self.missing = existing, missing

    def index_key_parts(self) -> Dict[str, Any]:
        """What the cached shard index depends on: every shard's identity (path, size, mtime) and the options."""
        return dict(kind=INDEX_NAMESPACE, version=INDEX_VERSION, shards=[file_identity(p) for p in self.shards],
                    image_exts=list(self.image_exts), caption_ext=self.caption_ext)

    def _load_shard_index(self) -> Dict[str, np.ndarray]:
        self._resolve_shards()
        if self.cache_dir is None:
            arrays, meta = self._build_shard_index()
            self.index_from_cache = False
        else:
            store = CacheStore(self.cache_dir)
            parts = self.index_key_parts()

            def build_or_check() -> bool:
                return store.get_or_compute(INDEX_NAMESPACE, parts, self._build_shard_index, mmap=True)[2]

            # one process builds the index, the others read the entry it wrote
            hit = build_or_check() if _in_dataloader_worker() else compute_on_main(build_or_check)
            arrays, meta, _ = store.get_or_compute(INDEX_NAMESPACE, parts, self._build_shard_index, mmap=True)
            self.index_from_cache = bool(hit)
        self.skipped = {k: int(meta['skipped'].get(k, 0)) for k in _SKIP_KINDS}
        self.damaged_shards = [(self.shards[i], problem) for i, problem in meta['damaged']]
        for path, problem in self.damaged_shards:
            print_log(f'ImageCaptionDataset: shard {path} is damaged: {problem}', logger='current',
                      level=logging.WARNING)
        print_log(f'ImageCaptionDataset: {len(arrays["caption_ends"])} samples from {len(self.shards)} shards '
                  f'(index {"from the cache" if self.index_from_cache else "built"}); dropped '
                  f'{self.skipped["no_caption"]} without caption, {self.skipped["no_image"]} without image, '
                  f'{self.skipped["truncated"]} cut off in {len(self.damaged_shards)} damaged shard(s)',
                  logger='current', level=logging.INFO)
        return arrays

    def _index_all(self) -> List[Dict[str, Any]]:
        """:func:`index_shard` of every shard, in order (in ``index_workers`` processes), with a progress bar."""
        from mmengine.dist import is_main_process
        from tqdm import tqdm
        show = bool(self.progress) and is_main_process()
        args = (self.image_exts, self.caption_ext)
        if self.index_workers <= 1 or len(self.shards) == 1:
            shards = tqdm(self.shards, desc='indexing shards', unit='shard', disable=not show)
            return [index_shard(p, *args) for p in shards]
        with ProcessPoolExecutor(max_workers=min(self.index_workers, len(self.shards))) as pool:
            jobs = [pool.submit(index_shard, p, *args) for p in self.shards]
            for _ in tqdm(as_completed(jobs), total=len(jobs), desc='indexing shards', unit='shard',
                          disable=not show):
                pass
            return [job.result() for job in jobs]

    def _build_shard_index(self) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
        results = self._index_all()
        skipped = dict.fromkeys(_SKIP_KINDS, 0)
        damaged = []
        for i, res in enumerate(results):
            for kind in _SKIP_KINDS:
                skipped[kind] += res['skipped'][kind]
            if res['problem']:
                damaged.append([i, f'{res["problem"]}; {len(res["captions"])} samples indexed from it, '
                                   f'{res["skipped"]["truncated"]} cut off'])
        caption_data, caption_ends = _pack_strings([c for r in results for c in r['captions']])
        member_data, member_ends = _pack_strings([m for r in results for m in r['members']])
        arrays = dict(
            shard=np.concatenate([np.full(len(r['captions']), i, np.int32) for i, r in enumerate(results)]),
            offset=np.concatenate([r['offset'] for r in results]),
            size=np.concatenate([r['size'] for r in results]),
            caption_data=caption_data, caption_ends=caption_ends, member_data=member_data, member_ends=member_ends)
        return arrays, dict(skipped=skipped, damaged=damaged, samples=int(len(caption_ends)),
                            shards=[osp.abspath(p) for p in self.shards])

    def _load_tsv(self) -> Dict[str, np.ndarray]:
        path = self._root_join(self.tsv)
        if not osp.isfile(path):
            raise DataError(f'ImageCaptionDataset: TSV file {path} not found')
        prefix = self.data_prefix.get('img_path', '') or self.data_root or ''
        paths, captions = [], []
        skipped = dict.fromkeys(_SKIP_KINDS, 0)
        with open(path, encoding='utf-8-sig') as f:
            for number, line in enumerate(f):
                if number == 0 and self.tsv_header:
                    continue
                line = line.rstrip('\r\n')
                if not line.strip():
                    continue
                image, _, caption = line.partition('\t')
                image, caption = image.strip(), caption.strip()
                if not image:
                    skipped['no_image'] += 1
                elif not caption:
                    skipped['no_caption'] += 1
                else:
                    image = osp.expanduser(image)
                    paths.append(image if osp.isabs(image) or not prefix else osp.join(prefix, image))
                    captions.append(caption)
        self.skipped = skipped
        print_log(f'ImageCaptionDataset: {len(paths)} samples from {path}; dropped {skipped["no_caption"]} lines '
                  f'without caption, {skipped["no_image"]} without image path', logger='current',
                  level=logging.INFO)
        caption_data, caption_ends = _pack_strings(captions)
        path_data, path_ends = _pack_strings(paths)
        return dict(caption_data=caption_data, caption_ends=caption_ends, path_data=path_data, path_ends=path_ends)

    # ------------------------------------------------------------------------------------------------ samples
    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        return len(self._rows)

    @staticmethod
    def _select(rows: np.ndarray, indices: Union[int, Sequence[int]]) -> np.ndarray:
        if isinstance(indices, int):
            return rows[:indices] if indices >= 0 else rows[indices:]
        return rows[np.asarray(list(indices), dtype=np.int64)]

    def get_subset_(self, indices: Union[int, Sequence[int]]) -> None:
        """Keep only ``indices`` (mmengine semantics: an int keeps the first / last N)."""
        if not self._fully_initialized:
            self.full_init()
        self._rows = self._select(self._rows, indices)
        self._bad = set()

    def get_subset(self, indices: Union[int, Sequence[int]]) -> 'ImageCaptionDataset':
        """A copy holding only ``indices`` (the index arrays are shared)."""
        if not self._fully_initialized:
            self.full_init()
        sub = copy.copy(self)
        sub._rows = self._select(self._rows, indices)
        sub._bad = set()
        sub.unreadable, sub.unreadable_samples = 0, []
        return sub

    def get_data_info(self, idx: int) -> dict:
        """The sample's annotation (no image bytes: :meth:`prepare_data` reads them)."""
        if not self._fully_initialized:
            self.full_init()
        n = len(self._rows)
        idx = int(idx)
        if not -n <= idx < n:
            raise IndexError(f'index {idx} out of range for {n} samples')
        idx %= n
        row = int(self._rows[idx])
        arrays = self._arrays
        info = dict(text=_string_at(arrays['caption_data'], arrays['caption_ends'], row), sample_idx=idx)
        if self.mode == 'tsv':
            info['img_path'] = _string_at(arrays['path_data'], arrays['path_ends'], row)
            return info
        shard = self.shards[int(arrays['shard'][row])]
        member = _string_at(arrays['member_data'], arrays['member_ends'], row)
        info.update(img_path=f'{shard}/{member}', tar_path=shard, tar_member=member,
                    tar_offset=int(arrays['offset'][row]), tar_size=int(arrays['size'][row]))
        return info

    @staticmethod
    def read_image_bytes(info: dict) -> bytes:
        """The encoded image of a tar sample: ``tar_size`` bytes at ``tar_offset`` of its shard.

        Raises:
            OSError: the shard is gone or shorter than the index says.
        """
        with open(info['tar_path'], 'rb') as f:
            f.seek(info['tar_offset'])
            data = f.read(info['tar_size'])
        if len(data) != info['tar_size']:
            raise OSError(f'read {len(data)} of {info["tar_size"]} bytes (shard changed or cut off since it was '
                          f'indexed?)')
        return data

    def prepare_data(self, idx: int) -> Optional[dict]:
        """The sample through the pipeline, or None when its image cannot be read (counted and logged). Only the
        loading steps (``LoadImageFromFile`` and subclasses) count as reading; other steps' errors propagate."""
        info = self.get_data_info(idx)
        data = dict(info)
        try:
            if self.mode == 'shards':
                data['img_bytes'] = self.read_image_bytes(info)
        except OSError as err:
            return self._note_unreadable(idx, info, err)
        for step in self.pipeline.transforms:
            if isinstance(step, LoadImageFromFile):
                try:
                    data = step(data)
                    if data is None:
                        raise OSError('the loading step returned None')
                except Exception as err:  # any decoding failure: this image is replaced by the next one
                    return self._note_unreadable(idx, info, err)
            else:
                data = step(data)
                if data is None:
                    return None
        return data

    def _note_unreadable(self, idx: int, info: dict, err: Exception) -> None:
        self._bad.add(idx)
        self.unreadable += 1
        if len(self.unreadable_samples) < self.max_listed:
            self.unreadable_samples.append(info['img_path'])
        print_log(f'ImageCaptionDataset: unreadable image {info["img_path"]} ({type(err).__name__}: {err}); sample '
                  f'{idx} is replaced by the next one ({self.unreadable} unreadable so far in this process)',
                  logger='current', level=logging.WARNING)
        return None

    def __getitem__(self, idx: int) -> dict:
        """Sample ``idx`` through the pipeline; an unreadable image is replaced by the next sample
        (``(idx + 1) % len``, then the one after ...), the same in every process."""
        if not self._fully_initialized:
            self.full_init()
        n = len(self)
        idx = int(idx)
        if not -n <= idx < n:
            raise IndexError(f'index {idx} out of range for {n} samples')
        idx %= n
        for step in range(min(n, self.max_refetch + 1)):
            candidate = (idx + step) % n
            if candidate in self._bad:
                continue
            data = self.prepare_data(candidate)
            if data is not None:
                return data
        raise DataError(f'ImageCaptionDataset: no readable sample among the {min(n, self.max_refetch + 1)} from '
                        f'index {idx} on ({self.unreadable} unreadable, e.g. {self.unreadable_samples[:3]}); check the '
                        f'data with tools/verify_data.py CONFIG')

    # ------------------------------------------------------------------------------------------------ checks
    def data_problems(self, decode: bool = True, workers: int = 8, progress: bool = True
                      ) -> Tuple[List[str], List[str]]:
        """Everything ``tools/verify_data.py`` reports about this dataset.

        Args:
            decode: decode every image (tar members from their bytes, TSV images from their files).
            workers: decoding threads.
            progress: show a progress bar while decoding.

        Returns:
            ``(notes, problems)``: informational lines (source, samples dropped while indexing) and problems
            (damaged or missing shards, missing image files, images that cannot be decoded).
        """
        if not self._fully_initialized:
            self.full_init()
        notes = [f'source: {self._source()}',
                 f'dropped while indexing: {self.skipped["no_caption"]} without caption, {self.skipped["no_image"]} '
                 f'without image' + (f', {self.skipped["truncated"]} cut off' if self.mode == 'shards' else '')]
        problems = [f'damaged shard {path}: {problem}' for path, problem in self.damaged_shards]
        problems += [f'missing shard {path}' for path in self.missing]
        if self.mode == 'tsv':
            paths = [self.get_data_info(i)['img_path'] for i in range(len(self))]
            problems += [f'missing image {p}' for p in paths if not osp.isfile(p)]
            if decode:
                problems += [f'unreadable image {p} ({reason})'
                             for p, reason in unreadable_images(paths, workers, progress=progress,
                                                                desc='decoding images')]
            return notes, problems
        if decode:
            problems += [f'unreadable image {name} ({reason})'
                         for name, reason in self.unreadable_members(workers, progress)]
        return notes, problems

    def unreadable_members(self, workers: int = 8, progress: bool = True) -> List[Tuple[str, str]]:
        """Decode every tar sample's image from its bytes (one thread per shard at a time).

        Returns:
            ``(img_path, reason)`` of the images that cannot be decoded, in sample order.
        """
        by_shard: Dict[str, List[int]] = {}
        for idx in range(len(self)):
            shard = self.shards[int(self._arrays['shard'][int(self._rows[idx])])]
            by_shard.setdefault(shard, []).append(idx)

        def check(indices: List[int]) -> List[Tuple[int, str, str]]:
            bad = []
            for idx in indices:
                info = self.get_data_info(idx)
                try:
                    decode_image(self.read_image_bytes(info))
                except Exception as err:  # every failure is reported, none is fatal here
                    bad.append((idx, info['img_path'], f'{type(err).__name__}: {err}'))
            return bad

        from tqdm import tqdm
        found = []
        bar = tqdm(total=len(self), desc='decoding tar members', unit='img', disable=not progress)
        with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
            jobs = {pool.submit(check, indices): len(indices) for indices in by_shard.values()}
            for job in as_completed(jobs):
                found.extend(job.result())
                bar.update(jobs[job])
        bar.close()
        return [(name, reason) for _, name, reason in sorted(found)]
