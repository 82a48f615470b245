"""The open_clip weights of a CLIP training checkpoint, exported for ``model.backbone.pretrained``
(``tools/export_clip_weights.py``)."""
import os.path as osp
import sys
from typing import Optional, TextIO

from ..utils import DataError

__all__ = ['export_clip_weights', 'resolve_checkpoint']


def resolve_checkpoint(path: str) -> str:
    """A checkpoint file, or the one named by ``<work_dir>/last_checkpoint``."""
    if osp.isdir(path):
        marker = osp.join(path, 'last_checkpoint')
        if not osp.isfile(marker):
            raise DataError(f'{path} is a directory without a last_checkpoint file')
        with open(marker) as f:
            path = f.read().strip()
    if not osp.isfile(path):
        raise DataError(f'Checkpoint not found: {path}')
    return path


def export_clip_weights(checkpoint: str, out_file: str, prefix: Optional[str] = None,
                        out: Optional[TextIO] = None) -> str:
    """Write the open_clip ``state_dict`` held by ``checkpoint`` to ``out_file``; returns ``out_file``.

    Args:
        checkpoint: an mmengine checkpoint of a model holding an ``OpenCLIPBackbone`` as ``backbone`` (e.g. a
            ``CLIPContrastiveModel`` training run), or a work dir (its ``last_checkpoint``).
        out_file: the open_clip weights file (``.pth``).
        prefix: key prefix of the open_clip model in the checkpoint (default: the backbone's).
        out: where the confirmation is printed (default ``sys.stdout``).
    """
    from ..models.classifiers.clip_contrastive import OPEN_CLIP_PREFIX, export_open_clip_weights
    ckpt = resolve_checkpoint(checkpoint)
    written = export_open_clip_weights(ckpt, out_file, prefix=prefix or OPEN_CLIP_PREFIX)
    print(f'Exported open_clip weights of {ckpt} to {written}', file=out or sys.stdout)
    return written
