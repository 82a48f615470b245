"""Export the open_clip weights of an mmood CLIP training checkpoint (:func:`mmood.apis.export_clip_weights`).

``python tools/export_clip_weights.py CHECKPOINT OUT_FILE``

CHECKPOINT is an mmengine checkpoint of a model holding an ``OpenCLIPBackbone`` as ``backbone`` (e.g.
``CLIPContrastiveModel`` trained with ``configs/clip/clip_tiny_digits.py``; ``work_dirs/<config>/last_checkpoint``
names the newest). OUT_FILE is a plain open_clip ``state_dict`` for ``model.backbone.pretrained``::

    python tools/test.py CONFIG --cfg-options model.backbone.pretrained=OUT_FILE

A work directory may be given instead of a checkpoint: its ``last_checkpoint`` is used.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse

from mmood.apis import export_clip_weights, guarded


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: export open_clip weights from a training checkpoint')
    parser.add_argument('checkpoint', help='mmengine checkpoint (or a work dir with last_checkpoint)')
    parser.add_argument('out_file', help='output open_clip state_dict file (.pth)')
    parser.add_argument('--prefix', help='key prefix of the open_clip model (default: the OpenCLIPBackbone\'s, '
                        'backbone.clip.)')
    return parser.parse_args(argv)


@guarded
def main(argv=None) -> str:
    args = parse_args(argv)
    return export_clip_weights(args.checkpoint, args.out_file, prefix=args.prefix)


if __name__ == '__main__':
    main()
