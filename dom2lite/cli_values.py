"""Checking command-line values before anything runs: numeric options and ``--set FIELD=VALUE``.

- Option types for argparse (``positive_int``, ``seed_int``, ``unit_fraction``, ...): an explicit zero
  or an out-of-range number is an error naming the option, never "use the default".
- ``parse_set(items, config_class)``: each ``FIELD=VALUE`` is converted to the field's declared type
  (``bool``, ``int``, ``float``, ``str``, ``tuple[int, ...]``) and a wrong one is a ``ConfigError``
  naming the field and the type expected. Ranges and choices are then checked by the config's own
  ``__post_init__`` when the caller builds it.
Explained in chapter 07 (the command line).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import re
import typing
from typing import Any

from dom2lite.errors import ConfigError

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


# ------------------------------------------------------------------------------------ option types
def _number(raw: str, kind: type) -> float | int:
    try:
        value = float(raw) if kind is float else int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {'a number' if kind is float else 'an integer'}, "
                                         f"got {raw!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {raw!r}")
    return value


def positive_int(raw: str) -> int:
    """An integer >= 1 (steps, episodes, intervals)."""
    value = _number(raw, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {raw!r}")
    return value


def seed_int(raw: str) -> int:
    """A seed or an index: an integer >= 0."""
    value = _number(raw, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {raw!r}")
    return value


def seed_list(raw: str) -> list[int]:
    """Seeds as ranges and lists: ``0-4`` -> [0, 1, 2, 3, 4]; ``0,2,7`` and ``0-2,9`` likewise; distinct."""
    seeds: list[int] = []
    for part in raw.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            first = seed_int(lo)
            last = seed_int(hi) if sep else first
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"must be seeds like 0-4 or 0,2,7, got {raw!r}") from None
        if last < first:
            raise argparse.ArgumentTypeError(f"range {part.strip()!r} runs backwards")
        seeds.extend(range(first, last + 1))
    if len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must be distinct, got {raw!r}")
    return seeds


def positive_float(raw: str) -> float:
    """A finite number > 0 (minutes, rates)."""
    value = _number(raw, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {raw!r}")
    return value


def non_negative_float(raw: str) -> float:
    """A finite number >= 0 (shift strengths)."""
    value = _number(raw, float)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {raw!r}")
    return value


def unit_fraction(raw: str) -> float:
    """A fraction in (0, 1] (of the episodes of a data set)."""
    value = _number(raw, float)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {raw!r}")
    return value


def device_name(raw: str) -> str:
    """``cpu``, ``cuda``, ``cuda:1``, ``auto``...: a device torch knows and this machine has."""
    import torch

    choice = raw.strip().lower()
    if choice in ("", "auto"):
        return choice or "auto"
    try:
        dev = torch.device(choice)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {raw!r}; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{raw!r} was asked for but CUDA is not available here; use cpu")
    return choice


# ------------------------------------------------------------------------------------- --set values
def field_types(config_class: type) -> dict[str, Any]:
    """``{field name: declared type}`` of a config dataclass (string annotations resolved)."""
    hints = typing.get_type_hints(config_class)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(config_class)}


def _type_name(kind: Any) -> str:
    if kind is bool:
        return "a boolean (true or false)"
    if kind is int:
        return "an integer"
    if kind is float:
        return "a number"
    if kind is str:
        return "a string"
    if typing.get_origin(kind) is tuple:
        return "a list of integers such as 64,64 or [64,64]"
    return str(kind)


def _example(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def convert_value(field: str, raw: str, kind: Any, example: Any = None) -> Any:
    """``raw`` (the text after ``=``) as the declared type ``kind``; ``ConfigError`` naming ``field`` else.
    ``example`` (e.g. the field's default) is shown in the error's hint."""
    text = raw.strip()

    def bad(why: str = "") -> ConfigError:
        hint = None if example is None else f"e.g. --set {field}={_example(example)}"
        return ConfigError(field, f"expected {_type_name(kind)}, got {raw!r}{why}", hint=hint)

    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise bad()
    if kind is int:
        try:
            return int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise bad() from None
            if math.isfinite(value) and value.is_integer():  # 1e4
                return int(value)
            raise bad() from None
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            raise bad() from None
        if not math.isfinite(value):
            raise bad(" (not finite)")
        return value
    if kind is str:
        return text
    if typing.get_origin(kind) is tuple:
        items = [p for p in re.split(r"[,\s]+", text.strip("[]() ")) if p]
        if not items:
            raise bad()
        try:
            return tuple(int(p) for p in items)
        except ValueError:
            raise bad() from None
    try:  # a type this module does not know: JSON where it parses, else the text
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_set(items: list[str] | None, config_class: type | None = None,
              others: dict[str, type] | None = None, reserved: dict[str, str] | None = None) -> dict[str, Any]:
    """``["eta=0.1", "hidden=64,64"]`` -> ``{"eta": 0.1, "hidden": (64, 64)}``, typed by ``config_class``.

    An unknown field is a ``ConfigError`` with the closest field names; ``others`` (``{name: config
    class}``) says which other algorithm has it; ``reserved`` (``{field: option}``) names fields set by
    their own option (``seed`` -> ``--seed``). Without ``config_class`` values are parsed as JSON.
    """
    types = field_types(config_class) if config_class is not None else None
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError("--set", f"expects FIELD=VALUE, got {item!r}", hint="write e.g. --set eta=0.1")
        if reserved and key in reserved:
            raise ConfigError(key, f"is set by {reserved[key]}, not by --set",
                              hint=f"use {reserved[key]} {raw or 'VALUE'}")
        if types is None:
            try:
                out[key] = json.loads(raw)
            except json.JSONDecodeError:
                out[key] = raw
            continue
        if key not in types:
            name = config_class.__name__
            owners = sorted(n for n, cls in (others or {}).items() if key in field_types(cls))
            why = f"not a field of {name}" + (f" (it is one of {', '.join(owners)})" if owners else "")
            close = difflib.get_close_matches(key, list(types), n=3)
            hint = (f"did you mean {' or '.join(close)}? " if close else "") + \
                f"fields of {name}: {', '.join(sorted(types))}"
            raise ConfigError(key, why, hint=hint)
        default = next(f.default for f in dataclasses.fields(config_class) if f.name == key)
        out[key] = convert_value(key, raw, types[key], None if default is dataclasses.MISSING else default)
    return out
