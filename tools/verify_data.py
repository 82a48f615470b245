"""Check every path a config reads: ``python tools/verify_data.py CONFIG [--cfg-options ...]``, or a benchmark's
default paths without a config: ``python tools/verify_data.py --benchmark imagenet_mos [--root data]``.

For the test data (each ID / OOD set) and every other dataset the config names (``train_dataloader``,
``val_dataloader``, ``id_train_dataloader``): the image count and every problem found -- missing roots, annotation
files, class folders, class folders out of the class names' order, ID images inside an OOD set, and (unless
``--no-decode``) every image that cannot be decoded, found by decoding all of them in parallel with a progress bar.
Image-caption training data (``ImageCaptionDataset``) also reports the samples dropped while indexing and damaged
tar shards, and decodes every image from its tar member's bytes.
Negative-label heads (NegLabel, CSP, AdaNeg, NegRefine) get their text inputs checked (the corpus folder, or the
ready label files with their entry counts and SHA-256); TOE configs also get their outlier inputs checked
(``model.outliers``: the word list, descriptor JSON or captions file with its entry count and SHA-256, the caption
index file, the corpus folder).
The messages are the ones a run would stop with. ``--check-weights`` also checks the backbone weights (no
download). Exit status 1 when anything is wrong, so scripts can test readiness. ``--list-benchmarks`` prints the
benchmark table.
"""
import mmood  # noqa: F401  (first: compat shims)

import argparse
import os
import sys

from cli_common import apply_common_options, guarded, read_config
from mmengine.config import DictAction

from mmood.apis.checks import read_test_sets, set_overlap_problems, text_input_checks
from mmood.datasets import BENCHMARKS, unreadable_images

LOADERS = ('test_dataloader', 'val_dataloader', 'train_dataloader', 'id_train_dataloader')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Report image counts, missing paths and unreadable images of the '
                                     'data a config reads')
    parser.add_argument('config', nargs='?', help='config file (or --benchmark)')
    parser.add_argument('--benchmark', choices=sorted(BENCHMARKS), help='check a benchmark\'s default paths')
    parser.add_argument('--root', default='data', help='root of the benchmark paths (default data)')
    parser.add_argument('--list-benchmarks', action='store_true', help='print the benchmark table and exit')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--cache-dir', help='shared cache (indexes of image-caption shards are built once and kept '
                        'there, as tools/train.py does; default: $MMOOD_CACHE or ~/.cache/mmood)')
    parser.add_argument('--max-problems', type=int, default=50, help='problems printed per set')
    parser.add_argument('--no-decode', action='store_true', help='only check that the files exist (fast)')
    parser.add_argument('--workers', type=int, default=min(8, os.cpu_count() or 1), help='decoding threads')
    parser.add_argument('--check-weights', action='store_true',
                        help='also check that the backbone weights are on disk (no download)')
    return parser.parse_args(argv)


def _print_problems(problems, max_problems, out) -> None:
    for p in problems[:max_problems]:
        print(f'    {p}', file=out)
    if len(problems) > max_problems:
        print(f'    ... {len(problems) - max_problems} more', file=out)


def _decode_problems(name, paths, decode, workers):
    if not decode:
        return []
    return [f'set "{name}": unreadable image {path} ({reason})'
            for path, reason in unreadable_images(paths, workers, progress=True, desc=f'decoding {name}')]


def verify(dataset_cfg: dict, max_problems: int = 50, out=sys.stdout, decode: bool = True, workers: int = 8) -> bool:
    """Print counts and problems of an ``OODEvalDataset`` config; True when everything is present and readable."""
    try:
        sets = read_test_sets(dataset_cfg)
    except (FileNotFoundError, ValueError) as err:
        print(f'dataset: {err}', file=out)
        return False
    ok = True
    print(f'{"set":<20} {"group":<5} {"images":>8}  status', file=out)
    for s in sets:
        problems = s['problems'] + _decode_problems(s['spec']['name'], s['paths'], decode, workers)
        status = 'ok' if not problems else f'{len(problems)} problem(s)'
        print(f'{s["spec"]["name"]:<20} {s["group"]:<5} {len(s["paths"]):>8}  {status}', file=out)
        _print_problems(problems, max_problems, out)
        ok = ok and not problems
    problems = set_overlap_problems(dataset_cfg, sets)
    _print_problems(problems, max_problems, out)
    return ok and not problems


def verify_other(name: str, dataset_cfg: dict, max_problems: int = 50, out=sys.stdout, decode: bool = True,
                 workers: int = 8) -> bool:
    """Print the count and problems of any other dataset (training data): built without its pipeline, then its
    files checked (and decoded). A dataset with a ``data_problems(decode, workers)`` method (image-caption tar
    shards, whose images are not files) reports its own notes and problems."""
    from mmpretrain.registry import DATASETS
    cfg = dict(dataset_cfg, pipeline=[])
    notes = []
    try:
        dataset = DATASETS.build(cfg)
        own_check = getattr(dataset, 'data_problems', None)
        if callable(own_check):
            count = len(dataset)
            notes, problems = own_check(decode=decode, workers=workers)
            problems = [f'{name}: {p}' for p in problems]
        else:
            infos = [dataset.get_data_info(i) for i in range(len(dataset))]
            count = len(infos)
    except Exception as err:  # a missing root, file or download: reported, the other datasets still checked
        print(f'{name:<20} {"":<5} {"-":>8}  cannot build {cfg.get("type")}: {err}', file=out)
        return False
    if not callable(own_check):
        # samples that carry their image in memory (the digits demo: img_path is a label) have no file to check
        paths = [str(i['img_path']) for i in infos if i.get('img_path') and i.get('img') is None]
        problems = [f'{name}: missing image {p}' for p in paths if not os.path.isfile(p)]
        problems += _decode_problems(name, paths, decode, workers)
    print(f'{name:<20} {"":<5} {count:>8}  {"ok" if not problems else f"{len(problems)} problem(s)"}', file=out)
    for note in notes:
        print(f'    {note}', file=out)
    _print_problems(problems, max_problems, out)
    return not problems


def list_benchmarks(out=sys.stdout) -> None:
    """The benchmark table: name, description, ID set and OOD sets with their groups."""
    for name, entry in sorted(BENCHMARKS.items()):
        sets = ', '.join(f'{s["name"]} ({s.get("group", "far")})' for s in entry['ood_sets'])
        print(f'{name}: {entry["description"]}\n    ID {entry["id_set"]["name"]}; OOD {sets}', file=out)


def check_weights(backbone_cfg: dict, out=sys.stdout) -> bool:
    """Report whether the backbone's weights are available locally (never downloads when offline) and which
    activation they will be built with (a file that does not say and a config that does not either is a problem)."""
    from mmood.models.backbones import locate_weights, register_model_config
    name, pretrained = backbone_cfg.get('model_name'), backbone_cfg.get('pretrained')
    try:
        if backbone_cfg.get('model_cfg'):
            register_model_config(name, dict(backbone_cfg['model_cfg']))
        path, activation, why = locate_weights(name, pretrained, backbone_cfg.get('activation'))
    except (FileNotFoundError, ValueError) as err:  # MissingWeightsError, an unknown tag, ConfigError
        print(f'weights: {err}', file=out)
        return False
    print(f'weights: {name} / {pretrained}: {path or "random initialisation"}; activation {activation} ({why})',
          file=out)
    return True


def _type_name(cfg: dict) -> str:
    kind = cfg.get('type')
    return kind.split('.')[-1] if isinstance(kind, str) else getattr(kind, '__name__', str(kind))


@guarded
def main(argv=None) -> int:
    args = parse_args(argv)
    decode = not args.no_decode
    if args.list_benchmarks:
        list_benchmarks()
        return 0
    if args.benchmark:
        ok = verify(dict(type='OODEvalDataset', benchmark=args.benchmark, benchmark_root=args.root),
                    args.max_problems, decode=decode, workers=args.workers)
        print('all data present' if ok else 'data missing: see above (README "Data" describes the layout)')
        return 0 if ok else 1
    if not args.config:
        raise SystemExit('give a CONFIG or --benchmark NAME (--list-benchmarks shows them)')
    cfg = apply_common_options(read_config(args.config, args.cfg_options), cache_dir=args.cache_dir)
    ok, seen = True, []
    for loader in LOADERS:
        if cfg.get(loader) is None or cfg[loader].get('dataset') is None:
            continue
        ds = cfg[loader].dataset
        ds = ds.to_dict() if hasattr(ds, 'to_dict') else dict(ds)
        if ds in seen:
            continue
        seen.append(ds)
        print(f'== {loader}.dataset ({_type_name(ds)})')
        if _type_name(ds) == 'OODEvalDataset':
            ok = verify(ds, args.max_problems, decode=decode, workers=args.workers) and ok
        else:
            ok = verify_other(loader.replace('_dataloader', ''), ds, args.max_problems, decode=decode,
                              workers=args.workers) and ok
    for title, lines, problems in text_input_checks(cfg.get('model') or {}):  # TOE's outliers, negative labels
        print(f'== {title}')
        for line in lines:
            print(f'  {line}')
        _print_problems(problems, args.max_problems, sys.stdout)
        ok = not problems and ok
    if args.check_weights:
        ok = check_weights((cfg.get('model') or {}).get('backbone', {})) and ok
    print('all data present' if ok else 'data missing or unreadable: see above (README "Data" describes the layout)')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
