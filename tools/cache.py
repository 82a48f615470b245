"""Inspect and clean mmood's shared cache: ``python tools/cache.py list|info|clean`` (:mod:`mmood.apis.cache_admin`).

* ``list``  -- every entry with its size, date, status and what made it (model, set, feature kind, tool).
* ``info KEY`` -- one entry (a unique key prefix is enough): metadata, arrays, key parts, a read-only check.
* ``clean`` -- remove unfinished work and corrupt entries (default), or entries by key, namespace or age
  (``--all``, ``--key``, ``--older-than DAYS``); ``--dry-run`` only shows what would go.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import sys

from mmood.apis import add_cache_argument, cache_info, clean_cache, guarded, list_cache


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: inspect and clean the shared cache')
    add_cache_argument(parser, 'cache directory (default: $MMOOD_CACHE or ~/.cache/mmood)')
    parser.add_argument('--namespace', help='only this namespace (features, text_embeddings, ...)')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('list', help='entries with sizes and what made them')
    info = sub.add_parser('info', help='details of one entry')
    info.add_argument('key', help='entry key or unique prefix')
    clean = sub.add_parser('clean', help='remove entries (default: unfinished work and corrupt entries)')
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
    if args.command == 'list':
        list_cache(args.cache_dir, args.namespace)
    elif args.command == 'info':
        cache_info(args.key, args.cache_dir, args.namespace)
    else:
        clean_cache(args.cache_dir, args.namespace, keys=args.key, older_than=args.older_than, everything=args.all,
                    partial=args.partial, dry_run=args.dry_run)


if __name__ == '__main__':
    sys.exit(main())
