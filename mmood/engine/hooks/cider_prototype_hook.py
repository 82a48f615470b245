"""``CIDERPrototypeHook``: CIDER's class prototypes, initialised before training from the ID-train set."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ...models.classifiers.npos_cifar import NPOSCIFARClassifier
from ...utils.errors import ConfigError
from .utils import unwrap

__all__ = ['CIDERPrototypeHook']


@HOOKS.register_module()
class CIDERPrototypeHook(Hook):
    """Before training, once: set the CIDER prototypes of an NPOS-from-scratch model
    (:class:`~mmood.models.NPOSCIFARClassifier`) to the normalised class means of its projections over the config's
    ``id_train_dataloader`` (the ID-train set with the test transform, the KNN bank's loader), in eval mode. The
    prototypes are checkpointed: a resumed run (or a model whose prototypes are set) skips this.

    Args:
        dataloader: config key of the loader (``'id_train_dataloader'``).
    """
    priority = 'NORMAL'

    def __init__(self, dataloader: str = 'id_train_dataloader'):
        self.dataloader = dataloader

    def before_train(self, runner) -> None:
        model = unwrap(runner.model)
        if not isinstance(model, NPOSCIFARClassifier) or bool(model.cider.initialised):
            return
        cfg = runner.cfg.get(self.dataloader)
        if cfg is None:
            raise ConfigError(f'CIDERPrototypeHook initialises the prototypes from `{self.dataloader}` (the ID-train '
                              'set with the test pipeline); the config has none')
        model.init_prototypes(runner.build_dataloader(cfg, seed=runner.seed))
