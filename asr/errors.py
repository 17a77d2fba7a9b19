"""User-facing errors of the ``asr`` side; the CLI prints them as one paragraph with exit code 2."""

from accelsim.errors import AccelsimError


class AsrError(AccelsimError):
    """Bad user input to the speech side (manifest, audio, transcript, config, checkpoint)."""


class DataError(AsrError):
    """A manifest, audio file or transcript is missing, unreadable or outside the vocabulary."""


class CheckpointError(AsrError):
    """A checkpoint is missing, corrupt or does not match the model config."""


class ConfigError(AsrError):
    """A model / training / recipe YAML file is invalid."""
