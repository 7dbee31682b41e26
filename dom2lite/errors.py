"""Typed errors: every failure names the file and the field it is about."""

from __future__ import annotations

from pathlib import Path


class Dom2liteError(Exception):
    """Base class of every error the package raises on purpose."""


class ConfigError(Dom2liteError, ValueError):
    """A configuration field holds a bad value. ``field`` names it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"config field {field!r}: {message}")


class FileFieldError(Dom2liteError, ValueError):
    """Something is wrong with ``field`` of the file at ``path``."""

    def __init__(self, path: str | Path | None, field: str | None, message: str):
        self.path = None if path is None else Path(path)
        self.field = field
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
