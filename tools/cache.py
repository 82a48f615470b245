"""Inspect and clean mmood's shared cache: ``python tools/cache.py list|info|clean``.

* ``list``  -- every entry with its size, date, status and what made it (model, set, feature kind, tool).
* ``info KEY`` -- one entry (a unique key prefix is enough): metadata, arrays, key parts, a read-only check.
* ``clean`` -- remove unfinished work and corrupt entries (default), or entries by key, namespace or age
  (``--all``, ``--key``, ``--older-than DAYS``); ``--dry-run`` only shows what would go.
"""
import argparse
import json
import os.path as osp
import shutil
import sys
import time

from cli_common import default_cache_dir, guarded

from mmood.cache import CacheStore


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


def find(store: CacheStore, key: str, namespace=None) -> dict:
    matches = [e for e in store.list_entries(namespace) if e['key'].startswith(key)]
    if not matches:
        raise SystemExit(f'No cache entry with a key starting with "{key}" in {store.root}')
    if len(matches) > 1:
        raise SystemExit(f'Key prefix "{key}" is ambiguous: {[m["key"] for m in matches]}')
    return matches[0]


def cmd_list(store: CacheStore, args) -> None:
    entries = store.list_entries(args.namespace)
    if not entries:
        print(f'{store.root}: empty')
        return
    print(f'{store.root}: {len(entries)} entries, {human(sum(e["bytes"] for e in entries))}')
    for e in entries:
        date = time.strftime('%Y-%m-%d %H:%M', time.localtime(e['mtime']))
        print(f'  {e["namespace"]:<20} {e["key"][:24]:<24} {human(e["bytes"]):>9}  {date}  {e["status"]:<7}  '
              f'{describe(e)}')


def cmd_info(store: CacheStore, args) -> None:
    e = find(store, args.key, args.namespace)
    print(f'{e["namespace"]}/{e["key"]}  ({human(e["bytes"])}, {e["status"]})')
    print(f'path: {e["path"]}')
    print(f'what: {describe(e)}')
    if e['status'] != 'ok':
        return
    problem = store.check(e['namespace'], e['key'])
    print(f'check: {"ok" if problem is None else "CORRUPT: " + problem}')
    meta = dict(e['meta'])
    arrays = meta.pop('arrays', {})
    key_parts = meta.pop('key_parts', None)
    if isinstance(meta.get('prompts'), list) and len(meta['prompts']) > 20:
        meta['prompts'] = meta['prompts'][:20] + [f'... ({len(meta["prompts"])} in all)']
    print('arrays:')
    for name, info in arrays.items():
        print(f'  {name:<14} shape {info["shape"]} {info["dtype"]} {human(info["bytes"])}')
    print('meta:')
    for k, v in meta.items():
        print(f'  {k}: {v}')
    if key_parts is not None:
        print('key parts:')
        print('  ' + json.dumps(key_parts, indent=1, sort_keys=True).replace('\n', '\n  '))


def cmd_clean(store: CacheStore, args) -> None:
    entries = store.list_entries(args.namespace)
    now = time.time()

    def chosen(e):
        if args.key:
            return any(e['key'].startswith(k) for k in args.key)
        if args.all:
            return True
        if args.older_than is not None:
            return now - e['mtime'] > args.older_than * 86400
        if e['status'] == 'partial':  # default housekeeping: unfinished work and corrupt entries
            return args.partial
        return e['status'] == 'corrupt'

    selected = [e for e in entries if chosen(e)]
    if not selected:
        print('Nothing to clean.')
        return
    verb = 'would remove' if args.dry_run else 'removing'
    for e in selected:
        print(f'{verb} {e["namespace"]}/{e["key"]} ({human(e["bytes"])}): {describe(e)}')
        if not args.dry_run:
            shutil.rmtree(e['path'], ignore_errors=True)
    print(f'{"Would free" if args.dry_run else "Freed"} {human(sum(e["bytes"] for e in selected))}.')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: inspect and clean the shared cache')
    parser.add_argument('--cache-dir', help='cache directory (default: $MMOOD_CACHE or ~/.cache/mmood)')
    parser.add_argument('--namespace', help='only this namespace (features, text_embeddings, ...)')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('list', help='entries with sizes and what made them').set_defaults(func=cmd_list)
    info = sub.add_parser('info', help='details of one entry')
    info.add_argument('key', help='entry key or unique prefix')
    info.set_defaults(func=cmd_info)
    clean = sub.add_parser('clean', help='remove entries (default: unfinished work and corrupt entries)')
    clean.set_defaults(func=cmd_clean)
    clean.add_argument('--key', nargs='+', help='remove the entries with these keys (or prefixes)')
    clean.add_argument('--older-than', type=float, metavar='DAYS', help='remove entries older than DAYS')
    clean.add_argument('--all', action='store_true', help='remove everything (in --namespace if given)')
    clean.add_argument('--keep-partial', dest='partial', action='store_false',
                       help='keep unfinished extractions (they resume when re-run)')
    clean.add_argument('--dry-run', action='store_true', help='only show what would be removed')
    return parser.parse_args(argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    root = args.cache_dir or default_cache_dir()
    if not osp.isdir(root) and args.command != 'list':
        raise SystemExit(f'No cache at {root}')
    store = CacheStore(root)
    args.func(store, args)


if __name__ == '__main__':
    sys.exit(main())
