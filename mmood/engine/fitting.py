"""Heads fitted on ID-train features, with their fitted statistics cached: :func:`fit_heads_cached`.

A head that needs ID-train statistics (:attr:`~mmood.models.heads.BaseOODHead.requires_fit`: KNN, Mahalanobis,
ReAct, DICE, ViM, SHE, NNGuide, fDBD, KL-Matching) is fitted once per (model, ID-train features, head): what its
:meth:`~mmood.models.heads.BaseOODHead.fit` sets (:attr:`~mmood.models.heads.BaseOODHead.fit_state_names`) is
stored in the cache namespace ``fits`` and loaded by every later run, test runs (the prepare hook) and re-scoring
(``tools/score.py``) alike. The key (:func:`fit_key_parts`) holds

* ``model``: the model identity of the features (:func:`~mmood.features.model_identity`);
* ``source``: the ID-train set's identity (its dataset config, :func:`~mmood.features.train_set_source`);
* ``features``: for every feature kind the head reads, the SHA-256 of the cached feature and label arrays as
  recorded when they were written (so features extracted again from other files, another pipeline or another
  storage dtype make a new key; nothing is re-hashed);
* ``head``: :meth:`~mmood.models.heads.BaseOODHead.fit_identity` -- the head's class, its options and a digest of
  the prepared state its fit reads (the ID prototypes, hence the prompts; a linear view's ``W``, ``b`` and
  projection; a probe; a logit scale);
* ``device``: the device type the fit ran on (``cpu`` / ``cuda``), whose arithmetic the statistics carry.

Arrays are stored in the dtype the fit produced, and the fitted head holds exactly the arrays it stores (read back
through the same conversion), so a head loaded from the cache scores bit for bit as the head fitted in the run that
wrote it. The ID-train features are read into memory only when some head misses.
"""
import logging
import time
from typing import Any, Dict, List, Mapping, Optional

import numpy as np
import torch
from mmengine.logging import print_log

from ..cache import CacheStore, canonical, make_key

__all__ = ['FIT_NAMESPACE', 'fit_heads_cached', 'fit_key_parts', 'pack_fit_state', 'unpack_fit_state']

FIT_NAMESPACE = 'fits'


def pack_fit_state(state: Mapping[str, Any]) -> tuple:
    """``(arrays, layout)`` of a head's :meth:`fit_state`: every tensor as a numpy array of its dtype (``a0``,
    ``a1``...), the structure (dicts, lists, tuples, plain numbers) as JSON."""
    arrays: Dict[str, np.ndarray] = {}

    def pack(value):
        if isinstance(value, torch.Tensor):
            name = f'a{len(arrays)}'
            arrays[name] = np.ascontiguousarray(value.detach().cpu().numpy())
            return dict(array=name)
        if isinstance(value, np.ndarray):
            name = f'a{len(arrays)}'
            arrays[name] = np.ascontiguousarray(value)
            return dict(array=name, numpy=True)
        if isinstance(value, Mapping):
            return dict(dict={str(k): pack(v) for k, v in value.items()})
        if isinstance(value, (list, tuple)):
            return dict(list=[pack(v) for v in value], tuple=isinstance(value, tuple))
        if isinstance(value, np.generic):
            value = value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return dict(value=value)
        raise TypeError(f'cannot cache a fitted value of type {type(value).__name__}')

    layout = {str(name): pack(value) for name, value in state.items()}
    return arrays, layout


def unpack_fit_state(arrays: Mapping[str, np.ndarray], layout: Mapping[str, Any], copy: bool = True
                     ) -> Dict[str, Any]:
    """Inverse of :func:`pack_fit_state`: tensors on the CPU, each a contiguous copy of its array (``copy=False``:
    sharing the memory of ``arrays``, which must then be contiguous and writable)."""

    def unpack(node):
        if 'array' in node:
            arr = np.array(arrays[node['array']]) if copy else arrays[node['array']]  # owned, writable, contiguous
            return arr if node.get('numpy') else torch.from_numpy(arr)
        if 'dict' in node:
            return {k: unpack(v) for k, v in node['dict'].items()}
        if 'list' in node:
            items = [unpack(v) for v in node['list']]
            return tuple(items) if node.get('tuple') else items
        return node['value']

    return {name: unpack(node) for name, node in layout.items()}


def _features_digest(train: Any, kinds) -> Dict[str, Any]:
    """The recorded checksums of the cached feature and label arrays of ``kinds`` (key part ``features``)."""
    out = {}
    for kind in kinds:
        meta = train.metas[kind]
        arrays = meta.get('arrays', {})
        out[kind] = dict(feats=arrays.get('feats', {}).get('sha256'), labels=arrays.get('labels', {}).get('sha256'),
                         storage=meta.get('storage'), manifest=meta.get('manifest_digest'))
    return out


def fit_key_parts(head: Any, train: Any, model_id: Dict[str, Any], device: Any) -> Dict[str, Any]:
    """The key parts of one head's cached fit (see the module docstring); ``head`` must be prepared."""
    kinds = tuple(head.feature_kinds)
    return dict(kind='head_fit', model=model_id, source=train.source.identity, feature_kinds=list(kinds),
                features=_features_digest(train, kinds), head=head.fit_identity(),
                device=torch.device(device).type)


def _label(head: Any) -> str:
    return f'{type(head).__name__} ({head.primary_score})'


def fit_heads_cached(model: Any, train: Any, cache: Optional[CacheStore], model_id: Dict[str, Any],
                     device: Any = None) -> List[Dict[str, Any]]:
    """Give every head of ``model.heads_to_fit()`` its ID-train statistics: loaded from the cache, or fitted on the
    cached ID-train features ``train`` (a :class:`~mmood.features.CachedSet`) and stored.

    Args:
        model: a prepared :class:`~mmood.models.OODModel`.
        train: the cached ID-train set (memory-mapped; read into memory only when some head misses).
        cache: the cache the fits are kept in (None: fit every time, nothing stored).
        model_id: the model identity the features were cached under.
        device: where the features go for fitting (default: the model's prototypes' device).

    Returns:
        One record per head: ``head`` (the head), ``key``, ``hit`` (loaded from the cache).
    """
    heads = model.heads_to_fit()
    if not heads:
        return []
    device = torch.device(device) if device is not None else model.id_text.device
    records, missed = [], []
    for head in heads:
        if not head.fit_state_names:  # a head that declares no state to restore: fitted every time
            missed.append((head, None, None))
            continue
        parts = fit_key_parts(head, train, model_id, device)
        key = make_key(parts)
        found = cache.load(FIT_NAMESPACE, key, mmap=True) if cache is not None else None
        if found is not None:
            try:
                head.load_fit_state(unpack_fit_state(found[0], found[1]['layout']), device)
            except (KeyError, TypeError, ValueError) as err:  # an entry of another layout: fit again
                print_log(f'{_label(head)}: cached fit {key} does not restore ({err}); fitting again.',
                          logger='current', level=logging.WARNING)
            else:
                print_log(f'{_label(head)}: loaded fitted statistics ({", ".join(head.fit_state_names)}) from the '
                          f'cache ({key}).', logger='current', level=logging.INFO)
                records.append(dict(head=head, key=key, hit=True))
                continue
        missed.append((head, key, parts))
    if not missed:
        return records
    kinds = tuple(dict.fromkeys(k for head, _, _ in missed for k in head.feature_kinds))
    start = time.perf_counter()
    feats = {k: torch.from_numpy(np.array(train.feats[k], dtype=np.float32)).to(device) for k in kinds}
    labels = torch.from_numpy(np.array(train.labels, dtype=np.int64)).to(device)
    model.fit_heads(feats, labels)  # the protocol's fit: exactly the heads that missed are still unfitted
    del feats
    seconds = time.perf_counter() - start
    for head, key, parts in missed:
        if key is None:
            print_log(f'{_label(head)}: fitted on {train.num_samples} cached ID-train features (not cached: the head '
                      f'declares no fit_state_names).', logger='current', level=logging.INFO)
            records.append(dict(head=head, key=None, hit=False))
            continue
        arrays, layout = pack_fit_state(head.fit_state())
        # the head keeps exactly what a later run loads (same dtypes, contiguous arrays)
        head.load_fit_state(unpack_fit_state(arrays, layout, copy=False), device)
        where = 'not cached: no cache directory'
        if cache is not None:
            try:
                cache.save(FIT_NAMESPACE, key, arrays, dict(kind='head_fit', head=type(head).__name__,
                                                            score=head.primary_score, set_name=train.source.name,
                                                            num_samples=train.num_samples, layout=layout,
                                                            key_parts=canonical(parts)))
                where = f'cached as {key}'
            except ValueError as err:  # non-finite statistics: used by this run, never cached
                where = f'not cached: {err}'
        print_log(f'{_label(head)}: fitted on {train.num_samples} cached ID-train features ({", ".join(kinds)}, '
                  f'{seconds:.1f} s for the {len(missed)} head(s) fitted; {where}).', logger='current',
                  level=logging.INFO)
        records.append(dict(head=head, key=key, hit=False))
    return records
