"""Extract image features once into the shared cache: ``python tools/extract_features.py CONFIG [CHECKPOINT]``
(:func:`mmood.apis.extract_features`).

Splits: ``id_test`` (the ID set of ``test_dataloader``), ``ood`` (its OOD sets) and ``id_train`` (the optional
``id_train_dataloader``, the bank of the fitted detectors). Kinds: ``global`` (default: plus what the config's heads
read), ``local`` (patch features), ``pre_proj`` (before the projection).

Extraction is resumable (re-run the same command after an interruption: finished shards are kept) and works
under several processes (``torchrun --nproc_per_node=N tools/extract_features.py CONFIG --launcher pytorch``).
Then ``tools/score.py CONFIG --methods ...`` re-scores any post-hoc method without touching an image.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from mmood.apis import add_common_arguments, extract_features, guarded, parse_common
from mmood.features import SPLITS
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
    return extract_features(args.config, args.checkpoint, splits=args.splits, kinds=args.kinds, fp16=args.fp16,
                            shard_size=args.shard_size, batch_size=args.batch_size, num_workers=args.num_workers,
                            device=args.device, force=args.force, progress=not args.no_progress,
                            cache_dir=args.cache_dir, cfg_options=args.cfg_options, launcher=args.launcher)


if __name__ == '__main__':
    main()
