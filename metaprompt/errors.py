"""Errors a user can fix by changing a command, a config or a file.

``train.py`` prints such an error as one message (no traceback) and exits with status 2. Each
part of the project raises its own subclass, so the message can say exactly what to do:
:class:`ConfigError` here, ``CheckpointError`` (runtime), ``MissingWeightsError`` and
``WeightsFileError`` (CLIP loading), ``DatasetNotFoundError`` (datasets). This module imports
nothing, so every layer can use it.
"""


class UserInputError(Exception):
    """Base class: the message says what is wrong and what to do about it."""


class ConfigError(UserInputError, ValueError):
    """An unknown config key, a malformed value, or a value no component supports."""
