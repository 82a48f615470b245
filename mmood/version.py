"""Version of mmood."""
__version__ = '0.1.0'
