"""Every path a config reads, checked and reported before a run (``tools/verify_data.py``).

For the test data (each ID / OOD set) and every other dataset the config names (``train_dataloader``,
``val_dataloader``, ``id_train_dataloader``): the image count and every problem found -- missing roots, annotation
files, class folders, class folders out of the class names' order, ID images inside an OOD set, and (unless
``decode=False``) every image that cannot be decoded, found by decoding all of them in parallel with a progress bar.
A dataset that checks its own data (``data_problems(decode, workers)``: image-caption tar shards) reports its notes
and problems. The text inputs the model declares (:func:`~mmood.apis.checks.text_input_checks`: the sources its model
options name, the inputs each head declares) are checked with their entry counts and SHA-256. The messages are the
ones a run would stop with.
"""
import os
import sys
from typing import Mapping, Optional, Sequence, TextIO

from .checks import image_inputs, read_test_sets, set_overlap_problems, text_input_checks
from .config import plain_dict, type_name

__all__ = ['verify_data', 'verify', 'verify_other', 'check_weights', 'list_benchmarks', 'LOADERS']

#: the dataloaders whose datasets are checked, in this order
LOADERS = ('test_dataloader', 'val_dataloader', 'train_dataloader', 'id_train_dataloader')


def _print_problems(problems: Sequence[str], max_problems: int, out: TextIO) -> None:
    for p in problems[:max_problems]:
        print(f'    {p}', file=out)
    if len(problems) > max_problems:
        print(f'    ... {len(problems) - max_problems} more', file=out)


def _decode_problems(name, paths, decode, workers):
    from ..datasets import unreadable_images
    if not decode:
        return []
    return [f'set "{name}": unreadable image {path} ({reason})'
            for path, reason in unreadable_images(paths, workers, progress=True, desc=f'decoding {name}')]


def verify(dataset_cfg: Mapping, max_problems: int = 50, out: Optional[TextIO] = None, decode: bool = True,
           workers: int = 8) -> bool:
    """Print counts and problems of an ``OODEvalDataset`` config; True when everything is present and readable."""
    out = out or sys.stdout
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


def verify_other(name: str, dataset_cfg: Mapping, max_problems: int = 50, out: Optional[TextIO] = None,
                 decode: bool = True, workers: int = 8) -> bool:
    """Print the count and problems of any other dataset (training data): built without its pipeline, then its
    files checked (and decoded). A dataset with a ``data_problems(decode, workers)`` method (image-caption tar
    shards, whose images are not files) reports its own notes and problems."""
    from mmpretrain.registry import DATASETS
    out = out or sys.stdout
    cfg = dict(dataset_cfg, pipeline=[])
    notes = []
    try:
        dataset = DATASETS.build(cfg)
        own_check = getattr(dataset, 'data_problems', None)  # a dataset's declaration of its own check
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


def list_benchmarks(out: Optional[TextIO] = None) -> int:
    """Print the benchmark table: name, description, ID set and OOD sets with their groups; returns 0."""
    from ..datasets import BENCHMARKS
    out = out or sys.stdout
    for name, entry in sorted(BENCHMARKS.items()):
        sets = ', '.join(f'{s["name"]} ({s.get("group", "far")})' for s in entry['ood_sets'])
        print(f'{name}: {entry["description"]}\n    ID {entry["id_set"]["name"]}; OOD {sets}', file=out)
    return 0


def check_weights(backbone_cfg: Mapping, out: Optional[TextIO] = None) -> bool:
    """Report whether the backbone's weights are available locally (never downloads when offline) and which
    activation they will be built with (a file that does not say and a config that does not either is a problem)."""
    from mmpretrain.registry import MODELS
    out = out or sys.stdout
    cfg = dict(backbone_cfg)
    kind = MODELS.get(cfg.get('type', 'OpenCLIPBackbone'))
    if kind is None:
        print(f'weights: unknown backbone type {cfg.get("type")!r}', file=out)
        return False
    try:
        line = kind.weights_report(cfg)
    except (FileNotFoundError, ValueError, ImportError) as err:  # MissingWeightsError, unknown tag, ConfigError
        print(f'weights: {err}', file=out)
        return False
    print(f'weights: {line}', file=out)
    return True


def verify_data(config: Optional[str] = None, benchmark: Optional[str] = None, root: str = 'data',
                cfg_options: Optional[dict] = None, cache_dir: Optional[str] = None, max_problems: int = 50,
                decode: bool = True, workers: int = 8, weights: bool = False, out: Optional[TextIO] = None) -> int:
    """Check and report everything a config reads (see the module docstring), or a benchmark's default paths.

    Args:
        config: the config file (or ``benchmark``).
        benchmark: check this benchmark's default paths under ``root`` instead of a config's data.
        root: root of the benchmark paths.
        cfg_options: config overrides.
        cache_dir: the shared cache (indexes of image-caption shards are built once and kept there, as training
            does; default: :func:`~mmood.apis.resolve_cache_dir`).
        max_problems: problems printed per set.
        decode: decode every image (else only check that the files exist).
        workers: decoding threads.
        weights: also check that the backbone weights are on disk (no download).
        out: where the report goes (default ``sys.stdout``).

    Returns:
        The exit status: 0 when everything is present and readable, else 1.
    """
    from ..utils import ConfigError
    from .config import apply_common_options, read_config
    out = out or sys.stdout
    if benchmark:
        ok = verify(dict(type='OODEvalDataset', benchmark=benchmark, benchmark_root=root), max_problems, out=out,
                    decode=decode, workers=workers)
        print('all data present' if ok else 'data missing: see above (README "Data" describes the layout)', file=out)
        return 0 if ok else 1
    if not config:
        raise ConfigError('give a CONFIG or --benchmark NAME (--list-benchmarks shows them)')
    cfg = apply_common_options(read_config(config, cfg_options), cache_dir=cache_dir)
    ok, seen = True, []
    for loader in LOADERS:
        if cfg.get(loader) is None or cfg[loader].get('dataset') is None:
            continue
        ds = plain_dict(cfg[loader].dataset)
        if ds in seen:
            continue
        seen.append(ds)
        print(f'== {loader}.dataset ({type_name(ds)})', file=out)
        if type_name(ds) == 'OODEvalDataset':
            ok = verify(ds, max_problems, out=out, decode=decode, workers=workers) and ok
        else:
            ok = verify_other(loader.replace('_dataloader', ''), ds, max_problems, out=out, decode=decode,
                              workers=workers) and ok
    for where, aux_cfg in image_inputs(cfg.get('model') or {}):
        print(f'== {where} ({type_name(aux_cfg)})', file=out)
        ok = verify_other(where, plain_dict(aux_cfg), max_problems, out=out, decode=decode, workers=workers) and ok
    for title, lines, problems in text_input_checks(cfg.get('model') or {}):
        print(f'== {title}', file=out)
        for line in lines:
            print(f'  {line}', file=out)
        _print_problems(problems, max_problems, out)
        ok = not problems and ok
    if weights:
        ok = check_weights((cfg.get('model') or {}).get('backbone', {}), out=out) and ok
    print('all data present' if ok else 'data missing or unreadable: see above (README "Data" describes the layout)',
          file=out)
    return 0 if ok else 1
