"""Inspect and clean mmood's shared cache (``tools/cache.py``): list the entries, show one, remove some."""
import json
import os.path as osp
import shutil
import sys
import time
from typing import Dict, List, Optional, Sequence, TextIO

from ..cache import CacheStore, partial_in_use
from ..utils import UserError

__all__ = ['list_cache', 'cache_info', 'clean_cache', 'describe', 'human']


def human(num: float) -> str:
    """Bytes as a short human-readable size."""
    for unit in ('B', 'KB', 'MB', 'GB', 'TB'):
        if num < 1024 or unit == 'TB':
            return f'{num:.0f} {unit}' if unit == 'B' else f'{num:.1f} {unit}'
        num /= 1024.0
    return f'{num:.1f} TB'


def describe(entry: dict) -> str:
    """One line on what an entry holds and what made it."""
    meta = entry['meta'] or {}
    if entry['status'] == 'partial':
        kind = 'unfinished extraction (resumable shards)' if entry['key'].startswith('.partial-') \
            else 'temporary directory of an interrupted write'
        return kind
    if entry['status'] == 'corrupt':
        return 'corrupt: meta.json missing or unreadable'
    parts = meta.get('key_parts', {})
    if entry['namespace'] == 'features':
        shape = 'x'.join(str(d) for d in [meta.get('num_samples')] + list(meta.get('feature_shape', [])))
        return (f'{meta.get("model")}/{meta.get("pretrained")}  {meta.get("set_name")} ({meta.get("split")})  '
                f'{meta.get("feature")} {shape} {meta.get("storage")}  by {meta.get("made_by") or "?"}')
    if entry['namespace'] == 'image_caption_index':
        shards = meta.get('shards') or ['?']
        return (f'image-caption index: {meta.get("samples")} samples from {len(shards)} shards ({shards[0]}'
                f'{" ..." if len(shards) > 1 else ""}), dropped {meta.get("skipped")}')
    backbone = parts.get('backbone', {})
    what = parts.get('kind', entry['namespace'])
    extra = ''
    if 'template' in parts:
        extra = f' template "{parts["template"]}", {parts.get("num_words")} words'
    elif 'num_noun' in meta:
        extra = f' {meta["num_noun"]} nouns + {meta.get("num_adj")} adjectives'
    return f'{what}: {backbone.get("model_name")}/{backbone.get("pretrained")}{extra}'


def _store(cache_dir: Optional[str], must_exist: bool = True) -> CacheStore:
    from .config import resolve_cache_dir
    root = resolve_cache_dir(cache_dir)
    if must_exist and not osp.isdir(root):
        raise UserError(f'No cache at {root}')
    return CacheStore(root)


def _find(store: CacheStore, key: str, namespace: Optional[str] = None) -> dict:
    matches = [e for e in store.list_entries(namespace) if e['key'].startswith(key)]
    if not matches:
        raise UserError(f'No cache entry with a key starting with "{key}" in {store.root}')
    if len(matches) > 1:
        raise UserError(f'Key prefix "{key}" is ambiguous: {[m["key"] for m in matches]}')
    return matches[0]


def list_cache(cache_dir: Optional[str] = None, namespace: Optional[str] = None,
               out: Optional[TextIO] = None) -> List[dict]:
    """Print every entry (of ``namespace``) with its size, date, status and what made it; returns the entries."""
    out = out or sys.stdout
    store = _store(cache_dir, must_exist=False)
    entries = store.list_entries(namespace)
    if not entries:
        print(f'{store.root}: empty', file=out)
        return entries
    print(f'{store.root}: {len(entries)} entries, {human(sum(e["bytes"] for e in entries))}', file=out)
    for e in entries:
        date = time.strftime('%Y-%m-%d %H:%M', time.localtime(e['mtime']))
        print(f'  {e["namespace"]:<20} {e["key"][:24]:<24} {human(e["bytes"]):>9}  {date}  {e["status"]:<7}  '
              f'{describe(e)}', file=out)
    return entries


def cache_info(key: str, cache_dir: Optional[str] = None, namespace: Optional[str] = None,
               out: Optional[TextIO] = None) -> dict:
    """Print one entry (a unique key prefix is enough): metadata, arrays, key parts, a read-only check; returns it."""
    out = out or sys.stdout
    store = _store(cache_dir)
    e = _find(store, key, namespace)
    print(f'{e["namespace"]}/{e["key"]}  ({human(e["bytes"])}, {e["status"]})', file=out)
    print(f'path: {e["path"]}', file=out)
    print(f'what: {describe(e)}', file=out)
    if e['status'] != 'ok':
        return e
    problem = store.check(e['namespace'], e['key'])
    print(f'check: {"ok" if problem is None else "CORRUPT: " + problem}', file=out)
    meta = dict(e['meta'])
    arrays = meta.pop('arrays', {})
    key_parts = meta.pop('key_parts', None)
    if isinstance(meta.get('prompts'), list) and len(meta['prompts']) > 20:
        meta['prompts'] = meta['prompts'][:20] + [f'... ({len(meta["prompts"])} in all)']
    print('arrays:', file=out)
    for name, info in arrays.items():
        print(f'  {name:<14} shape {info["shape"]} {info["dtype"]} {human(info["bytes"])}', file=out)
    print('meta:', file=out)
    for k, v in meta.items():
        print(f'  {k}: {v}', file=out)
    if key_parts is not None:
        print('key parts:', file=out)
        print('  ' + json.dumps(key_parts, indent=1, sort_keys=True).replace('\n', '\n  '), file=out)
    return e


def clean_cache(cache_dir: Optional[str] = None, namespace: Optional[str] = None,
                keys: Optional[Sequence[str]] = None, older_than: Optional[float] = None, everything: bool = False,
                partial: bool = True, dry_run: bool = False, out: Optional[TextIO] = None) -> List[Dict]:
    """Remove entries: by key prefix (``keys``), all of them (``everything``, in ``namespace`` if given), those older
    than ``older_than`` days, or by default unfinished work (unless ``partial`` is False) and corrupt entries.
    Unfinished work a running job is using is kept (:func:`mmood.cache.partial_in_use`). ``dry_run`` only prints what
    would go. Returns the entries selected."""
    out = out or sys.stdout
    store = _store(cache_dir)
    entries = store.list_entries(namespace)
    now = time.time()

    def chosen(e):
        if keys:
            return any(e['key'].startswith(k) for k in keys)
        if everything:
            return True
        if older_than is not None:
            return now - e['mtime'] > older_than * 86400
        if e['status'] == 'partial':  # default housekeeping: unfinished work and corrupt entries
            return partial
        return e['status'] == 'corrupt'

    selected = []
    for e in entries:
        if not chosen(e):
            continue
        busy = partial_in_use(e['path']) if e['key'].startswith('.partial-') else None
        if busy:  # a running job's unfinished work: never pulled from under it
            print(f'keeping {e["namespace"]}/{e["key"]}: in use ({busy})', file=out)
            continue
        selected.append(e)
    if not selected:
        print('Nothing to clean.', file=out)
        return selected
    verb = 'would remove' if dry_run else 'removing'
    for e in selected:
        print(f'{verb} {e["namespace"]}/{e["key"]} ({human(e["bytes"])}): {describe(e)}', file=out)
        if not dry_run:
            shutil.rmtree(e['path'], ignore_errors=True)
    print(f'{"Would free" if dry_run else "Freed"} {human(sum(e["bytes"] for e in selected))}.', file=out)
    return selected
