"""mmood: out-of-distribution detection with vision-language models, as an OpenMMLab plugin.

Importing mmood applies the stack's compatibility shims (first) and registers mmood's models (backbone, heads,
classifiers, losses), datasets, metrics, hooks and loops into MMPretrain's registries.
"""
from . import _compat  # noqa: F401  (must stay first: torchvision shim, mmengine patches)
from .version import __version__  # noqa: E402
from . import datasets, engine, evaluation, features, models, scores, text  # noqa: E402,F401

__all__ = ['__version__']
