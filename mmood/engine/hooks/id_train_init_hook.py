"""``IDTrainInitHook``: state a model initialises from the ID-train set before training (CIDER's prototypes)."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ...models import OODModel
from ...utils.errors import ConfigError
from .utils import unwrap

__all__ = ['IDTrainInitHook']


@HOOKS.register_module()
class IDTrainInitHook(Hook):
    """Before training, once: a model that declares :attr:`~mmood.models.OODModel.needs_id_train_init` (NPOS from
    scratch: CIDER's class prototypes, the normalised class means of the untrained network's projections) gets
    :meth:`~mmood.models.OODModel.init_from_id_train` with the batches of the config's ``id_train_dataloader`` (the
    ID-train set with the test transform, the KNN bank's loader). The state is checkpointed: a resumed run (or a model
    whose state is set) declares that it needs nothing, and is left alone; so is every other model.

    Args:
        dataloader: config key of the loader (``'id_train_dataloader'``).
    """
    priority = 'NORMAL'

    def __init__(self, dataloader: str = 'id_train_dataloader'):
        self.dataloader = dataloader

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        if not isinstance(model, OODModel) or not model.needs_id_train_init:
            return
        cfg = runner.cfg.get(self.dataloader)
        if cfg is None:
            raise ConfigError(f'{type(model).__name__} initialises its training state from `{self.dataloader}` (the '
                              'ID-train set with the test pipeline); the config has none')
        model.init_from_id_train(runner.build_dataloader(cfg, seed=runner.seed))
