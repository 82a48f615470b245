"""Write TOE's textual outliers once: ``python tools/toe/make_outliers.py CONFIG [--level LEVEL] [--source FILE]``.

Writes the config's outlier list (``model.outliers.file``, default ``<work_dir>/toe_outliers_<level>.txt``: a
header saying how it was made, then one outlier prompt per line), the list ``tools/train.py`` then reads. Training
generates a missing list itself, so this tool is for looking at the outliers first or regenerating them (``--force``).
Levels (docs/toe.md): ``word`` (a ``.txt``/``.npy`` list, or offline the WordNet window of the shipped corpus),
``description`` (a classify-by-description JSON), ``caption`` (a captions file, Mahalanobis-filtered; the
caption filter with this model's tower reads, and if needed extracts, the ID-train features).
"""
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # tools/: cli_common

import mmood  # noqa: E402,F401  (first: compat shims before anything imports torchvision)

import argparse  # noqa: E402

from cli_common import add_common_arguments, guarded, load_config, parse_common, set_work_dir  # noqa: E402

from mmood.cache import CacheStore  # noqa: E402
from mmood.engine import ensure_features  # noqa: E402
from mmood.features import find_set_features, model_identity, train_set_source  # noqa: E402
from mmood.features.runtime import build_model, resolve_device  # noqa: E402
from mmood.text import OUTLIER_LEVELS  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: write the textual outliers of a TOE config')
    parser.add_argument('config', help='a TOE config (model.type = TOEClassifier)')
    parser.add_argument('--level', choices=OUTLIER_LEVELS, help='outlier level (default: the config\'s)')
    parser.add_argument('--source', help='input file of the level (word list, descriptor JSON, captions)')
    parser.add_argument('--allow-pickle', action='store_true',
                        help='read an object .npy (the reference\'s format; pickle can run code: trusted files only)')
    parser.add_argument('--work-dir', help='where the list goes by default (default ./work_dirs/<config>)')
    parser.add_argument('--device', help='e.g. cpu, cuda:0 (default: CUDA when available)')
    parser.add_argument('--force', action='store_true', help='write the list again even if it exists')
    add_common_arguments(parser)
    return parse_common(parser, argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    cfg = set_work_dir(load_config(args.config, args.cfg_options, args.cache_dir), args)
    if cfg.model.get('type') != 'TOEClassifier':
        raise SystemExit(f'{args.config} is not a TOE config (model.type = {cfg.model.get("type")})')
    outliers = dict(cfg.model.get('outliers') or {})
    for key, value in (('level', args.level), ('source', args.source)):
        if value is not None:
            outliers[key] = value
    if args.allow_pickle:
        outliers['allow_pickle'] = True
    cfg.model.outliers = outliers
    model = build_model(cfg, None, resolve_device(args.device))
    cache = CacheStore(cfg.cache_dir)

    def train_set():  # the caption filter's class means with this model's tower: the cached ID-train features
        loader = cfg.train_dataloader
        source = train_set_source(loader.dataset)
        model_id = model_identity(model)
        ensure_features(model, loader.dataset, [source], model.cached_input_kinds, cache, model_id,
                        loader.get('batch_size', 64), loader.get('num_workers', 0),
                        dict(made_by=f'tools/toe/make_outliers.py {args.config}'))
        return find_set_features(cache, model_id, source, model.cached_input_kinds)

    texts = model.outlier_texts(cfg.work_dir, cache, train_set, force=args.force)
    print(f'{len(texts)} {outliers.get("level", "description")}-level outliers ({len(set(texts))} unique): '
          f'{model.outlier_list_path(cfg.work_dir)}')
    return texts


if __name__ == '__main__':
    main()
