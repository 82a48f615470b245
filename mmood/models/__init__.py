"""Models: backbones -> heads / losses -> classifiers."""
from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .protocol import OODModel  # noqa: F401
