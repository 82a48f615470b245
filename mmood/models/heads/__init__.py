"""OOD score heads (higher = more ID)."""
from .base import BaseOODHead
from .mcm_head import MCMHead
from .neglabel_head import NegLabelHead

__all__ = ['BaseOODHead', 'MCMHead', 'NegLabelHead']
from .linear_probe import LinearProbeHead, zscore_statistics  # noqa: F401,E402
