"""Small shared utilities."""
from .dist import compute_on_main

__all__ = ['compute_on_main']
