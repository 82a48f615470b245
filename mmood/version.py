"""Version of mmood."""
__version__ = '0.2.0'
