"""Extract image features once into the shared cache: ``python tools/extract_features.py CONFIG [CHECKPOINT]``.

Splits: ``id_test`` (the ID set of ``test_dataloader``), ``ood`` (its OOD sets) and ``id_train`` (the optional
``id_train_dataloader``, the bank of KNN / Mahalanobis). Kinds: ``global`` (default: plus what the config's head
reads), ``local`` (patch features, GL-MCM), ``pre_proj`` (before the projection, PLP).

Extraction is resumable (re-run the same command after an interruption: finished shards are kept) and works
under several processes (``torchrun --nproc_per_node=N tools/extract_features.py CONFIG --launcher pytorch``).
Then ``tools/score.py CONFIG --methods ...`` re-scores any post-hoc method without touching an image.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from cli_common import add_common_arguments, guarded, load_config, parse_common
from mmengine.dist import get_dist_info, init_dist
from mmpretrain.registry import DATASETS

from mmood.cache import CacheStore
from mmood.features import SPLITS, eval_set_sources, extract_features, train_set_source
from mmood.features.runtime import build_model, resolve_device
from mmood.models.backbones import FEATURE_KINDS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: extract image features into the feature cache')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint loaded on top of the open_clip weights (optional; "none" = no checkpoint)')
    parser.add_argument('--splits', nargs='+', choices=SPLITS, default=['id_test', 'ood'],
                        help='which sets to extract (default: id_test ood)')
    parser.add_argument('--kinds', nargs='+', choices=list(FEATURE_KINDS), default=None,
                        help='feature kinds (default: global plus what the config heads read)')
    parser.add_argument('--fp16', action='store_true', help='store features as float16 (half the disk space)')
    parser.add_argument('--shard-size', type=int, default=2048, help='images per resumable shard (2048)')
    parser.add_argument('--batch-size', type=int, help='images per forward (default: the dataloader config)')
    parser.add_argument('--num-workers', type=int, help='loading workers (default: the dataloader config)')
    parser.add_argument('--device', help='e.g. cpu, cuda:0 (default: CUDA when available)')
    parser.add_argument('--force', action='store_true', help='extract again even if cached')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    add_common_arguments(parser, cache_help='feature cache (default: $MMOOD_CACHE or ~/.cache/mmood)')
    return parse_common(parser, argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.cache_dir)
    if args.launcher != 'none':
        init_dist(args.launcher, backend=cfg.env_cfg.dist_cfg.backend)
    rank, _ = get_dist_info()
    checkpoint = args.checkpoint if args.checkpoint and args.checkpoint.lower() != 'none' else None
    model = build_model(cfg, checkpoint, resolve_device(args.device))
    # global plus what the model's heads read (any model with a backbone: a feature_kinds property is optional)
    kinds = args.kinds or list(getattr(model, 'feature_kinds', ('global', )))
    cache = CacheStore(cfg.cache_dir)
    made_by = f'tools/extract_features.py {args.config}'
    report = []
    jobs = []
    test_splits = [s for s in args.splits if s in ('id_test', 'ood')]
    if test_splits:
        sources = [s for s in eval_set_sources(cfg.test_dataloader.dataset) if s.split in test_splits]
        jobs.append((cfg.test_dataloader, sources))
    if 'id_train' in args.splits:
        if cfg.get('id_train_dataloader') is None:
            raise SystemExit('--splits id_train needs an `id_train_dataloader` in the config: a labelled dataset '
                             'of ID training images with the test pipeline, e.g. id_train_dataloader = dict('
                             "batch_size=256, num_workers=8, dataset=dict(type='CustomDataset', "
                             "data_root='data/imagenet/train', pipeline=test_pipeline))")
        jobs.append((cfg.id_train_dataloader, [train_set_source(cfg.id_train_dataloader.dataset)]))
    for loader_cfg, sources in jobs:
        dataset = DATASETS.build(loader_cfg.dataset)
        report += extract_features(
            model, dataset, sources, kinds, cache, storage='float16' if args.fp16 else 'float32',
            batch_size=args.batch_size or loader_cfg.get('batch_size', 64),
            num_workers=args.num_workers if args.num_workers is not None else loader_cfg.get('num_workers', 0),
            shard_size=args.shard_size, checkpoint=checkpoint, made_by=made_by, progress=not args.no_progress,
            force=args.force)
    if rank == 0:
        print(f'Feature cache: {cache.root}')
        width = max(len(r['set']) for r in report)
        for r in report:
            print(f'  {r["set"]:<{width}}  {r["split"]:<8}  {r["kind"]:<8}  {r["num_samples"]:>8} images  '
                  f'{r["status"]:<9}  {r["key"]}')
    return report


if __name__ == '__main__':
    main()
