"""One DDP wrapper for every mmood model, frozen or trainable."""
import torch.nn as nn
from mmengine.device import get_device
from mmengine.model.wrappers import MMDistributedDataParallel
# Runner.wrap_model looks the type up with MODEL_WRAPPERS.get() on mmengine's root registry (no scope switch),
# so the wrapper is registered there; mmpretrain's child registry finds it through its parent.
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class OODDistributedDataParallel(MMDistributedDataParallel):
    """DDP over the whole model when it has trainable parameters; a plain pass-through when it has none.

    * Zero-shot models (everything frozen) cannot be wrapped by DDP ("DistributedDataParallel is not needed
      when a module doesn't have any parameter that requires a gradient"): there is nothing to synchronise, so
      this wrapper only holds the module and forwards ``val_step`` / ``test_step`` to it.
    * Trainable models (a linear probe on a frozen tower, a CLIP being trained) get ordinary DDP over the whole
      model: ``train_step`` runs the loss through DDP's ``forward``, so gradients of every trainable parameter
      are all-reduced whichever sub-module methods the model calls inside. (mmengine's
      ``MMSeparateDistributedDataParallel`` would wrap each trainable sub-module separately and break models
      that call a sub-module's methods rather than its ``forward``.)

    Args:
        module: the model.
        **kwargs: passed to :class:`mmengine.model.MMDistributedDataParallel` when the model is trainable.
    """

    def __init__(self, module: nn.Module, **kwargs):
        self.trainable = any(p.requires_grad for p in module.parameters())
        if self.trainable:
            super().__init__(module=module, **kwargs)
        else:
            nn.Module.__init__(self)
            self.module = module.to(get_device())

    def forward(self, *args, **kwargs):
        if self.trainable:
            return super().forward(*args, **kwargs)
        return self.module(*args, **kwargs)
