"""OOD score heads (higher = more ID)."""
from .base import BaseOODHead
from .mcm_head import MCMHead
from .neglabel_head import NegLabelHead
from .linear_probe import LinearProbeHead, zscore_statistics

__all__ = [
    'BaseOODHead', 'MCMHead', 'NegLabelHead', 'LinearProbeHead', 'zscore_statistics'
]
