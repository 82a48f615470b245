"""One on-disk cache for everything mmood computes once: text embeddings, mined negatives, features.

Layout::

    <root>/<namespace>/<key>/meta.json      # written last; lists every array with shape, dtype and size
    <root>/<namespace>/<key>/<name>.npy     # memory-mappable arrays

* **Keys** are content keys: the SHA-256 of the canonical JSON of everything the result depends on (model
  identity, weights identity, prompts, corpus, parameters, :data:`CACHE_FORMAT_VERSION`). Change any part and
  the key changes; keep them and it stays stable across runs and machines.
* **Writes are atomic**: an entry is assembled in a temporary sibling directory and renamed into place, so a
  killed process never leaves a half-written entry under a valid key.
* **Reads are validated**: a missing or unparsable ``meta.json``, a missing array, a size/shape/dtype that
  disagrees with the metadata, or a payload whose SHA-256 is not the one recorded at write time makes
  :meth:`CacheStore.load` report the entry as corrupt (a warning naming it), delete it and return ``None``; the
  caller recomputes. A corrupt entry is never used silently. Small entries (text embeddings, selections,
  pseudo-labels: up to :data:`VERIFY_EVERY_READ_BYTES`) are checked on every read; large ones (feature arrays,
  memory-mapped, tens of GB) once after they were written or changed: a ``.verified.json`` beside them records the
  size and mtime of each checked file, so re-scoring never re-hashes them.
* **Finite payloads**: a NaN or infinite value in a floating array is refused at write time, naming the entry
  and the array (a model that produced NaN features fails there, not later in a metric).
* **Concurrent writers** of one key are safe: every writer assembles its entry in a temporary directory of its
  own (``.tmp-<key>-<random>``), the entry is published by an atomic rename, and a writer that finds the key taken
  keeps the existing (identical: content-keyed) entry and discards its copy, so readers never see it disappear.
  Replacing an entry is explicit (``writer(..., replace=True)``: forced re-extraction, a test run's own features):
  the old one is moved aside atomically first. Removing an entry (a corrupt one, :meth:`CacheStore.remove`) moves
  it aside atomically too, so a reader never sees half of one.
* **Work in progress** is never shared by accident. :meth:`CacheStore.new_partial_dir` gives one run a folder no
  other run can get (host name, process id and a random part in its name), for work that cannot be resumed (a
  test run's batches). :meth:`CacheStore.partial_dir` is the one folder of a resumable piece of work (extraction
  shards, named from everything they depend on): a run killed with no cleanup leaves it for the next run of the
  same work, and whoever writes there holds the :meth:`CacheStore.lock` of the entries it will become, so two live
  runs never write into it together.
* **Large entries** (image features) are streamed through :meth:`CacheStore.writer` (memory-mapped arrays in the
  temporary directory). :meth:`CacheStore.list_entries` describes what is stored (``tools/cache.py``).

The library never chooses the cache root: configs and the top layer pass it in (:func:`mmood.apis.resolve_cache_dir`
resolves ``--cache-dir``, ``$MMOOD_CACHE`` or ``~/.cache/mmood``).
"""
import errno
import glob
import hashlib
import json
import logging
import os
import os.path as osp
import re
import shutil
import socket
import time
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

try:
    import fcntl
except ImportError:  # not on Windows: no locks there (one writer per cache)
    fcntl = None

import numpy as np
from mmengine.logging import print_log

CACHE_FORMAT_VERSION = 2  # 2: SHA-256 of every array in meta.json
#: entries up to this many bytes are checksum-verified on every read; larger ones once per (size, mtime)
VERIFY_EVERY_READ_BYTES = 64 * 2**20
_HASH_BLOCK = 16 * 2**20


def canonical(obj: Any) -> Any:
    """``obj`` as plain JSON types with sorted dict keys (what :func:`make_key` hashes)."""
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)


def file_identity(path: str) -> str:
    """Cheap identity of a (weights) file: path, size and mtime -- never a re-hash of a multi-GB file.

    The mtime is taken in nanoseconds: a file re-exported to the same path with the same size (same
    architecture) within one second must still get a new identity, or cached text embeddings would be stale.
    """
    st = os.stat(path)
    raw = f'{osp.abspath(path)}|{st.st_size}|{st.st_mtime_ns}'
    return 'file:' + hashlib.sha256(raw.encode()).hexdigest()[:16]


def make_key(parts: Dict[str, Any]) -> str:
    """Content key of a dict of key parts (order-independent, 24 hex digits)."""
    payload = json.dumps(canonical(dict(parts, cache_format=CACHE_FORMAT_VERSION)), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def hash_strings(strings) -> str:
    """Stable digest of a sequence of strings (e.g. class names, a corpus), order-sensitive."""
    h = hashlib.sha256()
    for s in strings:
        h.update(s.encode('utf-8'))
        h.update(b'\n')
    return h.hexdigest()[:24]


def _inode(path: str) -> Optional[int]:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def run_token() -> str:
    """A name part no other process gets, now or later: host name, process id and 48 random bits."""
    return f'{_host_name()}-{os.getpid()}-{uuid.uuid4().hex[:12]}'


_RUN_TOKEN = re.compile(r'-(?P<pid>\d+)-[0-9a-f]{12}$')


def _host_name() -> str:
    return re.sub(r'[^A-Za-z0-9_.-]', '_', socket.gethostname())[:32] or 'host'


def partial_in_use(path: str) -> Optional[str]:
    """Why the unfinished-work folder ``path`` (``<root>/<namespace>/.partial-...``) is in use now, or None.

    A run's own folder (:meth:`CacheStore.new_partial_dir`, named ``...-<host>-<pid>-<random>``) is in use while its
    process lives (a folder of another host: assumed in use); a resumable folder (:meth:`CacheStore.partial_dir`)
    while any entry lock of its namespace is held (the writers hold the locks of the entries they make).
    """
    name = osp.basename(path)
    match = _RUN_TOKEN.search(name)
    if match:
        if not name[:match.start()].endswith(f'-{_host_name()}'):
            return 'made by a run on another host (or an unknown one)'
        try:
            os.kill(int(match['pid']), 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return f'process {match["pid"]} is still running'
    for lock_file in sorted(glob.glob(osp.join(osp.dirname(path), '.lock-*'))):
        lock = CacheLock(lock_file)
        if not lock.acquire(blocking=False):
            return f'an extraction holds {osp.basename(lock_file)} ({lock.holder() or "unknown process"})'
        lock.release()
    return None


def _move_aside(path: str, inode: Optional[int] = None) -> bool:
    """Rename the directory ``path`` to a unique ``.trash-`` sibling and delete it there, so no reader ever sees it
    half-deleted. With ``inode``, only that directory goes: one published under ``path`` meanwhile by another
    process is put back. Returns whether a directory was removed."""
    trash = osp.join(osp.dirname(path), f'.trash-{osp.basename(path)}-{uuid.uuid4().hex[:8]}')
    try:
        os.rename(path, trash)
    except OSError:
        return False
    if inode is not None and _inode(trash) != inode:
        try:  # another process published a new entry between the check and the rename: put it back
            os.rename(trash, path)
            return False
        except OSError:  # and yet another one since: the same content (content key), keep that one
            pass
    shutil.rmtree(trash, ignore_errors=True)
    return True


class CacheLock:
    """An exclusive lock of one cache key between processes (``fcntl.flock`` on ``<root>/<namespace>/.lock-<key>``).

    The kernel releases it when its process ends, however it ends (``kill -9`` included), so a lock is never
    stale; the lock file is removed on release. Holders write their host and process id into the file
    (:meth:`holder`, for messages). Use it as a context manager (blocking) or with :meth:`acquire`.
    Without ``fcntl`` (Windows) locking is a no-op.

    Args:
        path: the lock file.
    """

    def __init__(self, path: str):
        self.path = path
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock (waiting for it when ``blocking``); returns whether it is held now."""
        if self._fd is not None:
            raise RuntimeError(f'{self.path} is already held by this lock')
        if fcntl is None:
            self._fd = -1
            return True
        os.makedirs(osp.dirname(self.path), exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                return False
            except BaseException:
                os.close(fd)
                raise
            if os.fstat(fd).st_ino == _inode(self.path):
                break
            os.close(fd)  # the holder we waited for removed this file: lock the one at the path now
        os.ftruncate(fd, 0)
        os.write(fd, f'{socket.gethostname()} {os.getpid()}\n'.encode())
        self._fd = fd
        return True

    def release(self) -> None:
        """Remove the lock file and release the lock (removed first: a waiter then locks a new file)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        if fd < 0:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(fd)

    def holder(self) -> str:
        """``'<host> <pid>'`` of the process holding the lock (as it wrote it), or ``''``."""
        try:
            with open(self.path) as f:
                return f.read().strip()
        except OSError:
            return ''

    def __enter__(self) -> 'CacheLock':
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def file_sha256(path: str) -> str:
    """SHA-256 of a file, streamed in blocks."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b''):
            h.update(block)
    return h.hexdigest()


def nonfinite_count(arr: np.ndarray, rows: int = 65536) -> int:
    """Number of NaN / infinite values of a floating array (0 for other dtypes), in row blocks."""
    if not np.issubdtype(arr.dtype, np.floating) or arr.size == 0:
        return 0
    flat = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    return int(sum(int((~np.isfinite(flat[s:s + rows])).sum()) for s in range(0, flat.shape[0], rows)))


def dir_size(path: str) -> int:
    """Bytes used by the files under ``path`` (recursively)."""
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.path.getsize(osp.join(dirpath, name))
            except OSError:
                pass
    return total


class CacheStore:
    """Content-keyed, atomically written, validated cache entries of numpy arrays plus JSON metadata.

    Args:
        root: the cache directory (created on first write).
    """

    def __init__(self, root: str):
        if not root:
            raise ValueError('CacheStore needs a directory (set `cache_dir` in the config or --cache-dir)')
        self.root = osp.abspath(osp.expanduser(root))

    def entry_dir(self, namespace: str, key: str) -> str:
        return osp.join(self.root, namespace, key)

    # ------------------------------------------------------------------ read
    def load(self, namespace: str, key: str, mmap: bool = False
             ) -> Optional[Tuple[Dict[str, np.ndarray], Dict[str, Any]]]:
        """Load an entry, or None if absent. Corrupt entries are removed and reported.

        Args:
            namespace: e.g. ``'text_embeddings'``.
            key: content key from :func:`make_key`.
            mmap: memory-map the arrays instead of reading them.

        Returns:
            ``(arrays, meta)`` or None.
        """
        path = self.entry_dir(namespace, key)
        for _ in range(8):
            inode = _inode(path)
            if inode is None:
                return None
            try:
                return self._read(path, mmap)
            except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
                if _inode(path) != inode:
                    continue  # a concurrent writer replaced the entry while it was read: read the new one
                print_log(f'Corrupt cache entry {path} ({err}); removing it, it will be rebuilt.', logger='current',
                          level=logging.WARNING)
                self._discard(path, inode)
                return None
        return None

    @staticmethod
    def _discard(path: str, inode: int) -> None:
        """Remove the entry directory ``path`` if it is still the one (``inode``) found corrupt: moved aside
        atomically first, so a good entry published meanwhile by another process is never deleted."""
        if _inode(path) == inode:
            _move_aside(path, inode)

    @staticmethod
    def _read(path: str, mmap: bool) -> Tuple[Dict[str, np.ndarray], Dict[str, Any]]:
        """Read and validate an entry directory; raises on any disagreement with ``meta.json``."""
        with open(osp.join(path, 'meta.json')) as f:
            meta = json.load(f)
        arrays = {}
        for name, info in meta['arrays'].items():
            file = osp.join(path, f'{name}.npy')
            if os.path.getsize(file) != info['bytes']:
                raise ValueError(f'{file}: {os.path.getsize(file)} bytes, expected {info["bytes"]}')
            arr = np.load(file, mmap_mode='r' if mmap else None, allow_pickle=False)
            if list(arr.shape) != info['shape'] or str(arr.dtype) != info['dtype']:
                raise ValueError(f'{file}: shape/dtype {arr.shape}/{arr.dtype} disagree with meta.json')
            arrays[name] = arr
        CacheStore._verify_payload(path, meta)
        return arrays, meta

    @staticmethod
    def _verify_payload(path: str, meta: Dict[str, Any]) -> None:
        """Check every array's SHA-256 against ``meta.json``: on every read for small entries, once per (size,
        mtime) of the files for large ones (recorded in ``.verified.json``)."""
        infos = meta['arrays']
        if any('sha256' not in info for info in infos.values()):
            raise ValueError('no checksums in meta.json (written by an older mmood)')
        total = sum(info['bytes'] for info in infos.values())
        stamps = {}
        for name in infos:
            st = os.stat(osp.join(path, f'{name}.npy'))
            stamps[name] = [st.st_size, st.st_mtime_ns]
        record = osp.join(path, '.verified.json')
        if total > VERIFY_EVERY_READ_BYTES:
            try:
                with open(record) as f:
                    if json.load(f) == stamps:
                        return
            except (OSError, ValueError):
                pass
        for name, info in infos.items():
            if file_sha256(osp.join(path, f'{name}.npy')) != info['sha256']:
                raise ValueError(f'{name}.npy: checksum mismatch (the file changed after it was written)')
        if total > VERIFY_EVERY_READ_BYTES:
            tmp = f'{record}.{uuid.uuid4().hex[:8]}'
            with open(tmp, 'w') as f:
                json.dump(stamps, f)
            os.replace(tmp, record)

    def check(self, namespace: str, key: str) -> Optional[str]:
        """Validate an entry without changing anything: None if it is sound, else what is wrong."""
        path = self.entry_dir(namespace, key)
        if not osp.isdir(path):
            return 'no such entry'
        try:
            self._read(path, mmap=True)
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
            return str(err)
        return None

    def contains(self, namespace: str, key: str) -> bool:
        return osp.isfile(osp.join(self.entry_dir(namespace, key), 'meta.json'))

    # ------------------------------------------------------------------ write
    def writer(self, namespace: str, key: str, replace: bool = False) -> 'EntryWriter':
        """An :class:`EntryWriter` for one entry: arrays are streamed into a temporary directory and the entry
        appears under its key only on :meth:`EntryWriter.commit` (use it for arrays too large for memory).
        ``replace``: publish over an existing entry (else an existing entry is kept)."""
        return EntryWriter(self, namespace, key, replace)

    def save(self, namespace: str, key: str, arrays: Dict[str, np.ndarray], meta: Optional[dict] = None) -> str:
        """Write an entry atomically (temporary directory, then rename).

        Args:
            namespace: entry namespace.
            key: content key.
            arrays: name -> array (saved as ``<name>.npy``).
            meta: JSON-serialisable metadata (key parts, word lists, provenance).

        Returns:
            The entry directory.
        """
        with self.writer(namespace, key) as writer:
            for name, arr in arrays.items():
                writer.add_array(name, arr)
            return writer.commit(meta)

    # ------------------------------------------------------------------ work in progress, locks, housekeeping
    def partial_dir(self, namespace: str, key: str) -> str:
        """Directory for the resumable, unfinished work that will become entry ``key`` (e.g. extraction shards).

        It lives beside the entries as ``<root>/<namespace>/.partial-<key>`` and is never read as an entry. The
        same ``key`` gives the same directory in every process: that is what makes the work resumable after a
        kill, and why ``key`` must name everything the work depends on, and why a writer holds the
        :meth:`lock` of the entries it makes while it writes there. ``tools/cache.py clean --partial`` removes
        leftovers. Work that cannot be resumed goes to :meth:`new_partial_dir`.
        """
        return osp.join(self.root, namespace, f'.partial-{key}')

    def new_partial_dir(self, namespace: str, label: str) -> str:
        """Create and return a directory for one run's unfinished work that no other run gets:
        ``<root>/<namespace>/.partial-<label>-<host>-<pid>-<random>`` (see :func:`run_token`), so two runs
        with the same ``label`` (e.g. started in the same second) never share one. Remove it when done."""
        base = osp.join(self.root, namespace)
        os.makedirs(base, exist_ok=True)
        while True:
            path = osp.join(base, f'.partial-{label}-{run_token()}')
            try:
                os.mkdir(path)
                return path
            except FileExistsError:  # 48 random bits: practically never
                continue

    def lock(self, namespace: str, key: str) -> CacheLock:
        """The inter-process :class:`CacheLock` of entry ``key`` (not taken yet: ``with store.lock(ns, key):``).
        Writers of work that other runs may resume (:meth:`partial_dir`) hold it while they write."""
        return CacheLock(osp.join(self.root, namespace, f'.lock-{key}'))

    def remove(self, namespace: str, key: str) -> bool:
        """Delete an entry (moved aside atomically first: readers never see half of it); returns whether it
        existed."""
        path = self.entry_dir(namespace, key)
        if not osp.isdir(path):
            return False
        return _move_aside(path)

    def list_entries(self, namespace: Optional[str] = None) -> List[Dict[str, Any]]:
        """Describe the entries (and unfinished work) under the root without validating the arrays.

        Args:
            namespace: only this namespace (default: all).

        Returns:
            One dict per directory, sorted by namespace then creation time: ``namespace``, ``key``, ``path``,
            ``bytes`` (on disk), ``status`` (``'ok'``; ``'partial'`` for resumable work or temporary
            directories of interrupted writes; ``'corrupt'`` when ``meta.json`` is missing or unreadable),
            ``meta`` (the parsed ``meta.json`` or None) and ``mtime``.
        """
        out = []
        if not osp.isdir(self.root):
            return out
        spaces = [namespace] if namespace else sorted(os.listdir(self.root))
        for space in spaces:
            base = osp.join(self.root, space)
            if not osp.isdir(base):
                continue
            for name in sorted(os.listdir(base)):
                path = osp.join(base, name)
                if not osp.isdir(path):
                    continue
                meta, status = None, 'ok'
                if name.startswith(('.partial-', '.tmp-', '.trash-')):
                    status = 'partial'
                else:
                    try:
                        with open(osp.join(path, 'meta.json')) as f:
                            meta = json.load(f)
                    except (OSError, ValueError):
                        status = 'corrupt'
                out.append(dict(namespace=space, key=name, path=path, bytes=dir_size(path), status=status,
                                meta=meta, mtime=osp.getmtime(path)))
        return sorted(out, key=lambda e: (e['namespace'], e['mtime']))

    def get_or_compute(self, namespace: str, parts: Dict[str, Any],
                       compute: Callable[[], Tuple[Dict[str, np.ndarray], dict]],
                       mmap: bool = False) -> Tuple[Dict[str, np.ndarray], Dict[str, Any], bool]:
        """Load the entry keyed by ``parts`` or compute, save and return it.

        Returns:
            ``(arrays, meta, hit)`` where ``hit`` tells whether the cache answered.
        """
        key = make_key(parts)
        found = self.load(namespace, key, mmap=mmap)
        if found is not None:
            return found[0], found[1], True
        arrays, meta = compute()
        self.save(namespace, key, arrays, dict(meta, key_parts=canonical(parts)))
        loaded = self.load(namespace, key, mmap=mmap)
        if loaded is None:
            raise RuntimeError(f'Cache entry {self.entry_dir(namespace, key)} could not be read back after writing')
        return loaded[0], loaded[1], False


class EntryWriter:
    """Assemble one cache entry in a temporary directory, then publish it atomically.

    Arrays are added whole (:meth:`add_array`) or created as writable memory maps and filled piecewise
    (:meth:`create_array`), so entries larger than memory can be written. :meth:`commit` records every array's
    shape, dtype and size in ``meta.json`` and renames the directory into place (replacing an older entry under
    the same key). Leaving the ``with`` block without committing discards the temporary directory.

    Args:
        store: the :class:`CacheStore`.
        namespace: entry namespace.
        key: content key.
        replace: publish over an existing entry under the key (else the existing one is kept).
    """

    def __init__(self, store: 'CacheStore', namespace: str, key: str, replace: bool = False):
        self.final = store.entry_dir(namespace, key)
        self.key = key
        self.replace = replace
        parent = osp.dirname(self.final)
        os.makedirs(parent, exist_ok=True)
        self.tmp = osp.join(parent, f'.tmp-{key}-{uuid.uuid4().hex[:8]}')
        os.makedirs(self.tmp)
        self._names = []
        self._maps = {}
        self.committed = False

    def _file(self, name: str) -> str:
        if not name or '/' in name or name.startswith('.') or name == 'meta':
            raise ValueError(f'Invalid array name {name!r}')
        if name in self._names:
            raise ValueError(f'Array {name!r} added twice')
        self._names.append(name)
        return osp.join(self.tmp, f'{name}.npy')

    def add_array(self, name: str, arr: np.ndarray) -> None:
        """Save a whole array as ``<name>.npy``."""
        np.save(self._file(name), np.ascontiguousarray(arr), allow_pickle=False)

    def create_array(self, name: str, shape: Tuple[int, ...], dtype) -> np.ndarray:
        """Create ``<name>.npy`` as a writable memory map of the given shape and dtype; fill it before commit."""
        arr = np.lib.format.open_memmap(self._file(name), mode='w+', dtype=np.dtype(dtype), shape=tuple(shape))
        self._maps[name] = arr
        return arr

    def commit(self, meta: Optional[dict] = None) -> str:
        """Check and checksum the arrays, write ``meta.json`` (last) and publish the entry under its key.

        Returns:
            The entry directory.

        Raises:
            ValueError: a floating array holds NaN or infinite values (the message names the entry and array).
        """
        for arr in self._maps.values():
            arr.flush()
        self._maps.clear()
        info = {}
        for name in self._names:
            file = osp.join(self.tmp, f'{name}.npy')
            arr = np.load(file, mmap_mode='r', allow_pickle=False)
            bad = nonfinite_count(arr)
            if bad:
                raise ValueError(f'Cache entry {osp.basename(osp.dirname(self.final))}/{self.key}: array "{name}" '
                                 f'holds {bad} NaN or infinite values; refusing to cache it '
                                 f'({(meta or {}).get("set_name") or (meta or {}).get("kind") or "no set name"}).')
            info[name] = dict(shape=list(arr.shape), dtype=str(arr.dtype), bytes=os.path.getsize(file),
                              sha256=file_sha256(file))
            del arr
        full_meta = dict(meta or {}, arrays=info, created=time.strftime('%Y-%m-%d %H:%M:%S'),
                         cache_format=CACHE_FORMAT_VERSION)
        with open(osp.join(self.tmp, 'meta.json'), 'w') as f:
            json.dump(full_meta, f, indent=1)
        self._publish()
        self.committed = True
        return self.final

    def _publish(self) -> None:
        """Rename the temporary directory onto the key, safely under concurrent writers of the same key. A taken
        key keeps its entry (the same content, by the content key) unless :attr:`replace`: then the existing entry
        is moved aside atomically first (never deleted in place) and the rename retried."""
        parent = osp.dirname(self.final)
        for _ in range(8):
            try:
                os.rename(self.tmp, self.final)
                return
            except OSError as err:
                if err.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise
            if not self.replace:
                break
            trash = osp.join(parent, f'.trash-{self.key}-{uuid.uuid4().hex[:8]}')
            try:
                os.rename(self.final, trash)
            except FileNotFoundError:
                continue  # another writer moved it aside: try again
            shutil.rmtree(trash, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)  # the key is taken (by the same content): the existing entry stays

    def abort(self) -> None:
        """Discard the temporary directory."""
        self._maps.clear()
        if osp.isdir(self.tmp):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> 'EntryWriter':
        return self

    def __exit__(self, *exc) -> None:
        if not self.committed:
            self.abort()
