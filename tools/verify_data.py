"""Check a config's evaluation data: ``python tools/verify_data.py CONFIG [--cfg-options ...]``.

Prints the image count of every set (ID and each OOD set) and every problem found -- missing roots,
annotation files, class folders, or (with lists) every missing image path. Exit status 1 when anything is
missing, so scripts can test readiness.
"""
import mmood  # noqa: F401  (first: compat shims)

import argparse
import sys

from mmengine.config import Config, DictAction

from mmood.datasets import collect_set
from mmood.text import load_class_names


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Report image counts and missing paths of a config\'s data')
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--max-problems', type=int, default=50, help='problems printed per set')
    parser.add_argument('--check-weights', action='store_true',
                        help='also check that the backbone weights are on disk (no download)')
    return parser.parse_args(argv)


def verify(dataset_cfg: dict, max_problems: int = 50, out=sys.stdout) -> bool:
    """Print counts and problems of an ``OODEvalDataset`` config; True when everything is present."""
    try:
        num_classes = len(load_class_names(dataset_cfg['class_names']))
    except (FileNotFoundError, ValueError) as err:
        print(f'class names: {err}', file=out)
        num_classes = None
    ok = num_classes is not None
    specs = [(dict(dataset_cfg['id_set'], name=dataset_cfg['id_set'].get('name', 'ID')), True, 'id')]
    specs += [(s, False, s.get('group', 'far')) for s in dataset_cfg.get('ood_sets', [])]
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


def main(argv=None) -> int:
    args = parse_args(argv)
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
