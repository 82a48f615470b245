"""Write the list files of an ImageNet class subset whose labels follow a wnid list
(:func:`mmood.apis.make_subset_lists`)::

    python tools/dataset_converters/make_subset_lists.py --root data/imagenet --wnids txtfiles/<subset>_wnids.txt

writes ``<root>/meta/<subset>_train.txt`` (from ``<root>/train/<wnid>/``, files sorted) and
``<root>/meta/<subset>_val.txt`` (the lines of ``<root>/meta/val.txt`` whose class is in the subset, with the label
mapped from the sorted-wnid index to the subset's: label i = line i of the wnid list). Existing files are kept
unless ``--force``.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import sys

from mmood.apis import guarded, make_subset_lists


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Write the train / val list files of an ImageNet class subset')
    parser.add_argument('--root', default='data/imagenet', help='the ImageNet root (train/, val/, meta/val.txt)')
    parser.add_argument('--wnids', required=True, help='the subset\'s wnids, one per line, in label order')
    parser.add_argument('--sorted-wnids', default='txtfiles/imagenet_wnids.txt',
                        help='the wnids in the order of meta/val.txt\'s labels (default %(default)s)')
    parser.add_argument('--prefix', help='name prefix of the list files (default: the wnid file\'s name without '
                        '"_wnids")')
    parser.add_argument('--force', action='store_true', help='write the lists again')
    return parser.parse_args(argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    make_subset_lists(args.root, args.wnids, args.sorted_wnids, prefix=args.prefix, force=args.force)
    return 0


if __name__ == '__main__':
    sys.exit(main())
