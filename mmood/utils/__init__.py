"""Small shared utilities."""
from .checkpoint import (CheckpointMismatchError, UnsafeCheckpointError, check_checkpoint, checkpoint_record,
                         checkpoint_state_dict, load_checkpoint_file)
from .config import check_cfg_options, component_options
from .dist import compute_on_main
from .errors import ConfigError, DataError, UserError
from .geometry import center_crop_box, resize_crop_tensor, resize_edge_size
from .io import atomic_open, atomic_path
from .options import Range, check_ranges
from .workers import AUTO_WORKERS_CAP, loader_defaults, resolve_workers

__all__ = [
    'Range', 'check_ranges', 'UserError', 'ConfigError', 'DataError', 'atomic_open', 'atomic_path',
    'compute_on_main', 'CheckpointMismatchError', 'UnsafeCheckpointError', 'check_checkpoint', 'checkpoint_record',
    'checkpoint_state_dict', 'load_checkpoint_file', 'check_cfg_options', 'component_options', 'AUTO_WORKERS_CAP',
    'loader_defaults', 'resolve_workers', 'resize_edge_size', 'center_crop_box', 'resize_crop_tensor'
]
