"""Device choice: CUDA when present, overridable, never hard-coded.

``DOM2LITE_DEVICE`` (or the ``device`` argument) overrides the automatic choice.
Explained in the introduction (book/index.md).
"""

from __future__ import annotations

import os

import torch


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return the device to use: the argument, else ``DOM2LITE_DEVICE``, else CUDA if available, else CPU."""
    choice = device if device is not None else os.environ.get("DOM2LITE_DEVICE", "auto")
    if isinstance(choice, torch.device):
        return choice
    from dom2lite.errors import DeviceError  # a ConfigError and a RuntimeError

    field = "device" if device is not None else "DOM2LITE_DEVICE"
    choice = str(choice).strip().lower()
    if choice in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(choice)
    except RuntimeError:  # nonsense like "gpu0"
        raise DeviceError(field, f"unknown device {choice!r}", hint="use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(field, f"device {choice!r} was asked for but CUDA is not available on this machine",
                          hint="use cpu")
    return dev
