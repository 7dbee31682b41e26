"""Typed errors: every failure names the file and the field it is about."""

from __future__ import annotations

from pathlib import Path


class Dom2liteError(Exception):
    """Base class of every error the package raises on purpose.

    ``hint`` (optional) says what to do about it; the command line prints it after the message.
    """

    hint: str | None = None


class ConfigError(Dom2liteError, ValueError):
    """A configuration field holds a bad value. ``field`` names it."""

    def __init__(self, field: str, message: str, hint: str | None = None):
        self.field, self.reason, self.hint = field, message, hint
        super().__init__(f"config field {field!r}: {message}")


class DeviceError(ConfigError, RuntimeError):
    """The device asked for (argument or ``DOM2LITE_DEVICE``) is unknown or not on this machine."""


class FileFieldError(Dom2liteError, ValueError):
    """Something is wrong with ``field`` of the file at ``path``."""

    def __init__(self, path: str | Path | None, field: str | None, message: str, hint: str | None = None):
        self.path = None if path is None else Path(path)
        self.field, self.reason, self.hint = field, message, hint
        where = f"{self.path}" if self.path is not None else "<in memory>"
        if field is not None:
            where += f" [field {field!r}]"
        super().__init__(f"{where}: {message}")


class DatasetError(FileFieldError):
    """A data set file or its card is malformed, corrupt or inconsistent."""


class CheckpointError(FileFieldError):
    """A checkpoint file is truncated, corrupt or does not fit the model."""


class TrainingDiverged(Dom2liteError, RuntimeError):
    """A NaN/inf or a diverging Q value appeared; ``step`` and ``quantity`` say where."""

    def __init__(self, step: int, quantity: str, value: float):
        self.step, self.quantity, self.value = step, quantity, value
        super().__init__(f"training stopped at step {step}: {quantity} = {value!r}")


class MissingFileError(Dom2liteError, FileNotFoundError):
    """A file the package needs is not there; ``path`` names it, ``hint`` says how to make it.
    Still a ``FileNotFoundError``, so ``except FileNotFoundError`` catches it."""

    def __init__(self, path: str | Path, message: str, hint: str | None = None):
        super().__init__(message)
        self.path, self.reason, self.hint = Path(path), message, hint

    def __str__(self) -> str:
        return self.reason if self.hint is None else f"{self.reason}; {self.hint}"


class BackendMissing(Dom2liteError, ImportError):
    """An optional back-end (``package``) is not installed; ``hint`` says how to install it."""

    def __init__(self, package: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.package, self.reason, self.hint = package, message, hint
