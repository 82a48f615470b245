"""``DatasetEpochHook``: per-epoch random choices of a training dataset as a function of (sample, epoch)."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

__all__ = ['DatasetEpochHook']


@HOOKS.register_module()
class DatasetEpochHook(Hook):
    """Tell the training dataset the epoch before each one (``dataset.set_epoch``, when it has it), so per-epoch
    random choices are a function of (sample, epoch): equal under any number of processes and after a resume."""
    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        dataset = getattr(runner.train_dataloader, 'dataset', None)
        if hasattr(dataset, 'set_epoch'):
            dataset.set_epoch(runner.epoch)
