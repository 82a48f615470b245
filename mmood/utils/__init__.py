"""Small shared utilities."""
from .checkpoint import (CheckpointMismatchError, UnsafeCheckpointError, check_checkpoint, checkpoint_record,
                         checkpoint_state_dict, load_checkpoint_file)
from .dist import compute_on_main
from .errors import ConfigError, DataError, UserError

__all__ = ['UserError', 'ConfigError', 'DataError', 'compute_on_main', 'CheckpointMismatchError',
           'UnsafeCheckpointError', 'check_checkpoint', 'checkpoint_record', 'checkpoint_state_dict',
           'load_checkpoint_file']
