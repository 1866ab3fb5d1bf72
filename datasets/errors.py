"""The datasets' errors, in a module of their own so that every dataset module (and the Dassl
cache reader, which :mod:`.base` imports on use) can raise them without importing :mod:`.base`."""
from metaprompt.errors import UserInputError


class DatasetNotFoundError(UserInputError, FileNotFoundError):
    """A dataset file or folder is missing; the message says what to put where."""


class DatasetFileError(DatasetNotFoundError):
    """A dataset file exists but cannot be used (malformed, unsafe or stale); the message says why."""
