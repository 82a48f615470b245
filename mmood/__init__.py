"""mmood: out-of-distribution detection with vision-language models, as an OpenMMLab plugin.

Importing mmood applies the stack's compatibility shims (first) and registers mmood's models, datasets,
metrics and hooks into MMPretrain's registries.
"""
from . import _compat  # noqa: F401  (must stay first: torchvision shim, mmengine patches)
from .version import __version__  # noqa: E402
from . import datasets, engine, evaluation, models, scores, text  # noqa: E402,F401
from . import features, scorers  # noqa: E402,F401  (feature cache, post-hoc scorers)

__all__ = ['__version__']
