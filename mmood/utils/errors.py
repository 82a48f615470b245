"""The base of mmood's errors that a user can fix (a wrong file, option, path or checkpoint).

Each carries a message that names the file or option and the fix. The command-line tools print such an error as
one line (``error: ...``) and exit with status 2 instead of a traceback; inside other scripts (MMPretrain's
``tools/test.py``) they are ordinary exceptions with the same message.
"""

__all__ = ['UserError', 'ConfigError', 'DataError']


class UserError(Exception):
    """Mixin base of errors whose message tells the user what to change."""


class ConfigError(UserError, ValueError):
    """A config value that cannot work (a misspelt key or option, a missing section, names that disagree)."""


class DataError(UserError, FileNotFoundError):
    """Data a config names is missing or unreadable (the message names the file or folder)."""
