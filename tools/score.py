"""Re-score cached features with any OOD method: ``python tools/score.py CONFIG [CHECKPOINT] --methods ...`` -- calls
:func:`mmood.apis.score`.

No image is decoded and the image encoder never runs: the features come from the cache written by
``tools/test.py CONFIG --save-features`` or ``tools/extract_features.py CONFIG`` (found from the config alone).
``--methods``: ``config`` (the config's own heads, scored exactly as ``tools/test.py`` scores them) and the short
names of ``mmood.models.heads.METHODS`` (their heads are added beside the config's; heads fitted on ID-train
statistics also need the cached ID-train features, ``tools/extract_features.py CONFIG --splits id_train``).

Writes what ``tools/test.py`` writes -- ``metrics.json``, ``per_sample_results.csv``, ``report.md``, ``report.csv``
and the plots -- into ``<work-dir>/score_<timestamp>/``; with ``--methods config`` (the default) ``metrics.json`` and
``per_sample_results.csv`` equal the test run's byte for byte.

Example::

    python tools/score.py CONFIG --methods config knn mahalanobis --method-options knn.k=100
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import sys

from mmengine.config import DictAction

from mmood.apis import parse_method_options, raw_cfg_options, score
from mmood.apis.cli import add_cache_argument, guarded
from mmood.models.heads import METHOD_GROUPS, list_methods


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: re-score cached features with OOD methods')
    parser.add_argument('config', help='config file (the same one the features were extracted / tested with)')
    parser.add_argument('checkpoint', nargs='?', default=None,
                        help='checkpoint the features were extracted with (optional; "none" = no checkpoint)')
    parser.add_argument('--methods', nargs='+', default=['config'],
                        help=f'methods (default: config = every score of the config\'s heads); known: config '
                        f'{" ".join(list_methods())}; groups: '
                        f'{"; ".join(f"{k} = {chr(32).join(v)}" for k, v in METHOD_GROUPS.items())}')
    parser.add_argument('--method-options', nargs='+', default=[], metavar='METHOD.OPTION=VALUE',
                        help='head options, e.g. knn.k=100 energy.temperature=2 mahalanobis.relative=True')
    add_cache_argument(parser, 'feature cache (default: $MMOOD_CACHE or ~/.cache/mmood)')
    parser.add_argument('--work-dir', help='output directory (default ./work_dirs/<config>)')
    parser.add_argument('--batch-size', type=int,
                        help='rows per scoring batch (default: test_dataloader.batch_size, as tools/test.py)')
    parser.add_argument('--device', help='e.g. cpu, cuda:0 (default: CUDA when available)')
    parser.add_argument('--no-verify', action='store_true',
                        help='do not rescan image folders that still exist to check the stored manifests')
    parser.add_argument('--no-plots', action='store_true', help='skip the ROC / histogram PNGs')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args(argv)
    args.cfg_options_raw = raw_cfg_options(sys.argv[1:] if argv is None else argv)
    return args


@guarded
def main(argv=None):
    """A missing cache entry, an unknown method or option, a wrong checkpoint: one line, exit status 2."""
    args = parse_args(argv)
    return score(args.config, args.checkpoint, args.methods, parse_method_options(args.method_options),
                 cache_dir=args.cache_dir, work_dir=args.work_dir, batch_size=args.batch_size, device=args.device,
                 verify=not args.no_verify, plots=not args.no_plots, cfg_options=args.cfg_options,
                 again_args=args.cfg_options_raw)


if __name__ == '__main__':
    main()
