"""MS-COCO captions as a ``path<TAB>caption`` file for ImageCaptionDataset:
``python tools/dataset_converters/coco_captions_to_tsv.py ANNOTATIONS IMAGE_DIR OUT [--per-image 5]``
(:func:`mmood.apis.coco_captions_to_tsv`).

Images in ascending id, the first ``--per-image`` captions of each (0: all of them), paths ``IMAGE_DIR/file_name``.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from mmood.apis import coco_captions_to_tsv, guarded


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: MS-COCO captions -> path<TAB>caption file')
    parser.add_argument('annotations', help='captions_train2017.json (or val)')
    parser.add_argument('image_dir', help='the folder of the images (e.g. data/coco/train2017)')
    parser.add_argument('out', help='the .tsv to write')
    parser.add_argument('--per-image', type=int, default=5, help='captions per image (0: all)')
    return parser.parse_args(argv)


@guarded
def main(argv=None):
    args = parse_args(argv)
    return coco_captions_to_tsv(args.annotations, args.image_dir, args.out, args.per_image or None)


if __name__ == '__main__':
    main()
