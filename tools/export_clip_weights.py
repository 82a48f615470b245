"""Export the open_clip weights of an mmood CLIP training checkpoint.

``python tools/export_clip_weights.py CHECKPOINT OUT_FILE``

CHECKPOINT is an mmengine checkpoint of a model holding an ``OpenCLIPBackbone`` as ``backbone`` (e.g.
``CLIPContrastiveModel`` trained with ``configs/clip_tiny_digits.py``; ``work_dirs/<config>/last_checkpoint``
names the newest). OUT_FILE is a plain open_clip ``state_dict`` for ``model.backbone.pretrained``::

    python tools/test.py configs/mcm_tiny_digits.py --cfg-options model.backbone.pretrained=OUT_FILE

A work directory may be given instead of a checkpoint: its ``last_checkpoint`` is used.
"""
import mmood  # noqa: F401  (first: compat shims before anything imports torchvision)

import argparse
import os.path as osp

from cli_common import guarded

from mmood.models.classifiers.clip_contrastive import OPEN_CLIP_PREFIX, export_open_clip_weights


def resolve_checkpoint(path: str) -> str:
    """A checkpoint file, or the one named by ``<work_dir>/last_checkpoint``."""
    if osp.isdir(path):
        marker = osp.join(path, 'last_checkpoint')
        if not osp.isfile(marker):
            raise FileNotFoundError(f'{path} is a directory without a last_checkpoint file')
        with open(marker) as f:
            path = f.read().strip()
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint not found: {path}')
    return path


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='mmood: export open_clip weights from a training checkpoint')
    parser.add_argument('checkpoint', help='mmengine checkpoint (or a work dir with last_checkpoint)')
    parser.add_argument('out_file', help='output open_clip state_dict file (.pth)')
    parser.add_argument('--prefix', default=OPEN_CLIP_PREFIX, help='key prefix of the open_clip model')
    return parser.parse_args(argv)


@guarded
def main(argv=None) -> str:
    args = parse_args(argv)
    ckpt = resolve_checkpoint(args.checkpoint)
    out = export_open_clip_weights(ckpt, args.out_file, prefix=args.prefix)
    print(f'Exported open_clip weights of {ckpt} to {out}')
    return out


if __name__ == '__main__':
    main()
