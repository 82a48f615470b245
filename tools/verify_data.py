"""Check a config's evaluation data: ``python tools/verify_data.py CONFIG [--cfg-options ...]``, or a benchmark's
default paths without a config: ``python tools/verify_data.py --benchmark imagenet_mos [--root data]``.

Prints the image count of every set (ID and each OOD set) and every problem found -- missing roots,
annotation files, class folders, or (with lists) every missing image path. Exit status 1 when anything is
missing, so scripts can test readiness. ``--list-benchmarks`` prints the benchmark table.
"""
import mmood  # noqa: F401  (first: compat shims)

import argparse
import sys

from cli_common import guarded
from mmengine.config import Config, DictAction

from mmood.datasets import BENCHMARKS, collect_set, resolve_sets
from mmood.text import load_class_names


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Report image counts and missing paths of a config\'s data')
    parser.add_argument('config', nargs='?', help='config file (or --benchmark)')
    parser.add_argument('--benchmark', choices=sorted(BENCHMARKS), help='check a benchmark\'s default paths')
    parser.add_argument('--root', default='data', help='root of the benchmark paths (default data)')
    parser.add_argument('--list-benchmarks', action='store_true', help='print the benchmark table and exit')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--max-problems', type=int, default=50, help='problems printed per set')
    parser.add_argument('--check-weights', action='store_true',
                        help='also check that the backbone weights are on disk (no download)')
    return parser.parse_args(argv)


def verify(dataset_cfg: dict, max_problems: int = 50, out=sys.stdout) -> bool:
    """Print counts and problems of an ``OODEvalDataset`` config; True when everything is present."""
    try:
        id_set, ood_sets, class_names = resolve_sets(dataset_cfg)
    except ValueError as err:
        print(f'dataset: {err}', file=out)
        return False
    try:
        num_classes = len(load_class_names(class_names))
    except (FileNotFoundError, ValueError) as err:
        print(f'class names: {err}', file=out)
        num_classes = None
    ok = num_classes is not None
    specs = [(id_set, True, 'id')] + [(s, False, s['group']) for s in ood_sets]
    print(f'{"set":<20} {"group":<5} {"images":>8}  status', file=out)
    for spec, is_id, group in specs:
        samples, problems = collect_set(spec, is_id, num_classes, check_files=True)
        status = 'ok' if not problems else f'{len(problems)} problem(s)'
        print(f'{spec["name"]:<20} {group:<5} {len(samples):>8}  {status}', file=out)
        for p in problems[:max_problems]:
            print(f'    {p}', file=out)
        if len(problems) > max_problems:
            print(f'    ... {len(problems) - max_problems} more', file=out)
        ok = ok and not problems
    return ok


def list_benchmarks(out=sys.stdout) -> None:
    """The benchmark table: name, description, ID set and OOD sets with their groups."""
    for name, entry in sorted(BENCHMARKS.items()):
        sets = ', '.join(f'{s["name"]} ({s.get("group", "far")})' for s in entry['ood_sets'])
        print(f'{name}: {entry["description"]}\n    ID {entry["id_set"]["name"]}; OOD {sets}', file=out)


def check_weights(backbone_cfg: dict, out=sys.stdout) -> bool:
    """Report whether the backbone's weights are available locally (never downloads when offline)."""
    from mmood.models.backbones import resolve_pretrained
    name, pretrained = backbone_cfg.get('model_name'), backbone_cfg.get('pretrained')
    try:
        path = resolve_pretrained(name, pretrained)
    except (FileNotFoundError, ValueError) as err:
        print(f'weights: {err}', file=out)
        return False
    print(f'weights: {name} / {pretrained}: {path or "random initialisation"}', file=out)
    return True


@guarded
def main(argv=None) -> int:
    args = parse_args(argv)
    if args.list_benchmarks:
        list_benchmarks()
        return 0
    if args.benchmark:
        ok = verify(dict(type='OODEvalDataset', benchmark=args.benchmark, benchmark_root=args.root), args.max_problems)
        print('all data present' if ok else 'data missing: see above (README "Data" describes the layout)')
        return 0 if ok else 1
    if not args.config:
        raise SystemExit('give a CONFIG or --benchmark NAME (--list-benchmarks shows them)')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    ds = cfg.test_dataloader.dataset
    if ds.get('type') != 'OODEvalDataset':
        print(f'verify_data checks OODEvalDataset configs; this config uses {ds.get("type")}')
        return 0
    ok = verify(ds.to_dict() if hasattr(ds, 'to_dict') else dict(ds), args.max_problems)
    if args.check_weights:
        ok = check_weights(cfg.model.get('backbone', {})) and ok
    print('all data present' if ok else 'data missing: see above (README "Data" describes the layout)')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
