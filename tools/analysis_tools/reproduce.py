"""Reproduce the published numbers: ``python tools/analysis_tools/reproduce.py [--configs GLOB ...] [--dry-run]``.

For every run of ``configs/metafile.yml`` (a config with a published number; select with ``--configs`` globs or
``--methods``): check the weights and the data (the checks of ``tools/verify_data.py --check-weights``), run
``tools/test.py`` into ``<work-dir>/<run>/`` unless a finished run of the same config digest is on record, and write
one comparison table, ``<work-dir>/reproduce.md`` and ``reproduce.csv`` (published with its source, measured, Δ,
within tolerance). ``--dry-run`` only prints what each run lacks and where to get it. docs/reproduce.md.

Exit status: 0 -- dry run: everything could be checked (what is missing is the output); real run: every selected
number was measured and is within its tolerance. 1 -- real run: a number outside its tolerance, not measured, or a
run skipped or failed (the table says which). 2 -- a wrong option, metafile, config or selection.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import os.path as osp
import sys

from mmood.apis import add_cache_argument, guarded, reproduce

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Check, run and compare every published number of the metafile')
    parser.add_argument('--metafile', default='configs/metafile.yml', help='published numbers (default %(default)s)')
    parser.add_argument('--configs', nargs='+', metavar='GLOB',
                        help='runs to take: globs on the config path, its file name or the run name, e.g. '
                        '"configs/<method>/*" "*tiny_digits*" (default: all)')
    parser.add_argument('--methods', nargs='+', metavar='METHOD',
                        help='runs of these methods only (the metafile\'s "In Collection" names, any case)')
    parser.add_argument('--work-dir', default='work_dirs/reproduce',
                        help='runs go to WORK_DIR/<run>/, the table to WORK_DIR/reproduce.{md,csv} (default '
                        '%(default)s)')
    add_cache_argument(parser, 'shared cache for features, text embeddings and negatives, passed to every '
                       'tools/test.py run (default: $MMOOD_CACHE or ~/.cache/mmood)')
    parser.add_argument('--dry-run', action='store_true',
                        help='check weights, checkpoints and data and print what is missing; run and write nothing')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='added to every run\'s --cfg-options, after the metafile\'s (part of the run digest)')
    parser.add_argument('--pretrained', nargs='+', default=[], metavar='MODEL[/TAG]=PATH',
                        help='weights file for every run whose backbone is that open_clip model (and tag), e.g. '
                        'ViT-B-16/openai=checkpoints/ViT-B-16_openai.bin '
                        'mmood-tiny-vit=checkpoints/clip_tiny_digits.pth')
    parser.add_argument('--checkpoint', nargs='+', default=[], metavar='RUN=PATH',
                        help='checkpoint of run RUN (a run name of the metafile) instead of the metafile\'s')
    parser.add_argument('--rerun', action='store_true', help='run even when a finished run is on record')
    parser.add_argument('--verbose', action='store_true', help='stream the output of the tools/test.py runs')
    return parser.parse_args(argv)


@guarded
def main(argv=None) -> int:
    args = parse_args(argv)
    return reproduce(metafile=args.metafile, configs=args.configs, methods=args.methods, work_dir=args.work_dir,
                     cache_dir=args.cache_dir, dry_run=args.dry_run,
                     cfg_options=args.cfg_options, pretrained=args.pretrained, checkpoints=args.checkpoint,
                     rerun=args.rerun, verbose=args.verbose, repo_root=REPO)


if __name__ == '__main__':
    sys.exit(main())
