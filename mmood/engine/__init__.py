"""Runner-side pieces: hooks."""
from .hooks import OODPrepareHook, OODResultsHook

__all__ = ['OODPrepareHook', 'OODResultsHook']
