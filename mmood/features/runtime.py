"""Config and model set-up shared by ``tools/extract_features.py`` and ``tools/score.py`` (no Runner needed)."""
import logging
from typing import Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.logging import print_log


__all__ = ['build_model', 'resolve_device']


def resolve_device(device: Optional[str] = None) -> torch.device:
    """``device`` if given, else the local CUDA device when there is one, else CPU."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        from mmengine.dist import get_dist_info
        return torch.device('cuda', get_dist_info()[0] % torch.cuda.device_count())
    return torch.device('cpu')


def build_model(cfg: Config, checkpoint: Optional[str] = None, device: Optional[torch.device] = None,
                revise_keys: Sequence = ((r'^module\.', ''), )):
    """Build ``cfg.model`` (e.g. a ``CLIPOODClassifier``), load an optional checkpoint, move it to ``device``.

    ``cfg.randomness.seed`` is applied first, as the Runner does, so a random-weight test model is the same one
    ``tools/test.py`` builds.
    """
    from mmengine.runner import set_random_seed
    from mmpretrain.registry import MODELS

    from ..models.protocol import OODModel
    randomness = dict(cfg.get('randomness') or {})
    if randomness.get('seed') is not None:  # as the Runner does: random-weight models build identically
        set_random_seed(randomness['seed'], deterministic=randomness.get('deterministic', False),
                        diff_rank_seed=randomness.get('diff_rank_seed', False))
    model = MODELS.build(cfg.model)
    if checkpoint:
        from ..utils import check_checkpoint, checkpoint_record, checkpoint_state_dict, load_checkpoint_file
        loaded = load_checkpoint_file(checkpoint)
        what = check_checkpoint(model, loaded, checkpoint)  # strict: refuse a checkpoint of another model
        model.load_state_dict(checkpoint_state_dict(loaded, revise_keys), strict=False)
        model.checkpoint_record = checkpoint_record(checkpoint, what)
        if isinstance(model, OODModel):
            model.note_checkpoint(checkpoint)
        print_log(f'Loaded checkpoint {checkpoint} ({what["keys"]} keys)', logger='current', level=logging.INFO)
    model.eval()
    return model.to(device or resolve_device())
