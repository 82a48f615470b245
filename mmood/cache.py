"""One on-disk cache for everything mmood computes once: text embeddings, mined negatives, features.

Layout::

    <root>/<namespace>/<key>/meta.json      # written last; lists every array with shape, dtype and size
    <root>/<namespace>/<key>/<name>.npy     # memory-mappable arrays

* **Keys** are content keys: the SHA-256 of the canonical JSON of everything the result depends on (model
  identity, weights identity, prompts, corpus, parameters, :data:`CACHE_FORMAT_VERSION`). Change any part and
  the key changes; keep them and it stays stable across runs and machines.
* **Writes are atomic**: an entry is assembled in a temporary sibling directory and renamed into place, so a
  killed process never leaves a half-written entry under a valid key.
* **Reads are validated**: a missing or unparsable ``meta.json``, a missing array, or a size/shape/dtype that
  disagrees with the metadata makes :meth:`CacheStore.load` report the entry as corrupt, delete it and return
  ``None``; the caller recomputes. A corrupt entry is never used silently.

The library never chooses the cache root: configs and the CLI layer (``tools/``) pass it in
(:func:`default_cache_dir` is what the tools use when the user gives none).
"""
import hashlib
import json
import logging
import os
import os.path as osp
import shutil
import time
import uuid
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
from mmengine.logging import print_log

CACHE_FORMAT_VERSION = 1


def default_cache_dir() -> str:
    """The user's cache folder for mmood: ``$MMOOD_CACHE`` or ``$XDG_CACHE_HOME/mmood`` or ``~/.cache/mmood``.

    Only the CLI layer calls this; library code receives the directory as an argument.
    """
    if os.environ.get('MMOOD_CACHE'):
        return os.environ['MMOOD_CACHE']
    base = os.environ.get('XDG_CACHE_HOME') or osp.join(osp.expanduser('~'), '.cache')
    return osp.join(base, 'mmood')


def _canonical(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)


def make_key(parts: Dict[str, Any]) -> str:
    """Content key of a dict of key parts (order-independent, 24 hex digits)."""
    payload = json.dumps(_canonical(dict(parts, cache_format=CACHE_FORMAT_VERSION)), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def hash_strings(strings) -> str:
    """Stable digest of a sequence of strings (e.g. class names, a corpus), order-sensitive."""
    h = hashlib.sha256()
    for s in strings:
        h.update(s.encode('utf-8'))
        h.update(b'\n')
    return h.hexdigest()[:24]


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
        if not osp.isdir(path):
            return None
        try:
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
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
            print_log(f'Corrupt cache entry {path} ({err}); removing it, it will be rebuilt.', logger='current',
                      level=logging.WARNING)
            shutil.rmtree(path, ignore_errors=True)
            return None
        return arrays, meta

    def contains(self, namespace: str, key: str) -> bool:
        return osp.isfile(osp.join(self.entry_dir(namespace, key), 'meta.json'))

    # ------------------------------------------------------------------ write
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
        final = self.entry_dir(namespace, key)
        parent = osp.dirname(final)
        os.makedirs(parent, exist_ok=True)
        tmp = osp.join(parent, f'.tmp-{key}-{uuid.uuid4().hex[:8]}')
        os.makedirs(tmp)
        try:
            info = {}
            for name, arr in arrays.items():
                arr = np.ascontiguousarray(arr)
                file = osp.join(tmp, f'{name}.npy')
                np.save(file, arr, allow_pickle=False)
                info[name] = dict(shape=list(arr.shape), dtype=str(arr.dtype), bytes=os.path.getsize(file))
            full_meta = dict(meta or {}, arrays=info, created=time.strftime('%Y-%m-%d %H:%M:%S'),
                             cache_format=CACHE_FORMAT_VERSION)
            with open(osp.join(tmp, 'meta.json'), 'w') as f:
                json.dump(full_meta, f, indent=1)
            if osp.isdir(final):
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            if osp.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)
        return final

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
        self.save(namespace, key, arrays, dict(meta, key_parts=_canonical(parts)))
        loaded = self.load(namespace, key, mmap=mmap)
        if loaded is None:
            raise RuntimeError(f'Cache entry {self.entry_dir(namespace, key)} could not be read back after writing')
        return loaded[0], loaded[1], False
