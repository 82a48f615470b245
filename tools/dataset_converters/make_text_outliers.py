"""Write a model's textual outliers once: ``python tools/dataset_converters/make_text_outliers.py CONFIG [--level LEVEL]
[--source FILE]`` (:func:`mmood.apis.make_text_outliers`).

For a config whose model declares textual outliers (``model.outliers``): writes the outlier list
(``model.outliers.file``, default in the work dir: a header saying how it was made, then one outlier prompt per
line), the list ``tools/train.py`` then reads. Training generates a missing list itself, so this tool is for looking
at the outliers first or regenerating them (``--force``). Levels (:data:`mmood.text.OUTLIER_LEVELS`): ``word`` (a
``.txt``/``.npy`` list, or offline the WordNet window of the shipped corpus), ``description`` (a
classify-by-description JSON), ``caption`` (a captions file, Mahalanobis-filtered; the caption filter with this
model's tower reads, and if needed extracts, the ID-train features).
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from mmood.apis import add_common_arguments, guarded, make_text_outliers, parse_common
from mmood.text import OUTLIER_LEVELS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: write the textual outliers of a config (model.outliers)')
    parser.add_argument('config', help='a config whose model declares textual outliers (model.outliers)')
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
    return make_text_outliers(args.config, level=args.level, source=args.source, allow_pickle=args.allow_pickle,
                              work_dir=args.work_dir, device=args.device, force=args.force, cache_dir=args.cache_dir,
                              cfg_options=args.cfg_options)


if __name__ == '__main__':
    main()
