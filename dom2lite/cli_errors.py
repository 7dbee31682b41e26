"""One error path for the command line: every expected failure is one line and a non-zero exit.

``error: <what> (<field or file>): <why>; <what to do>`` is printed to standard error for

- a bad command line (argparse: unknown option, a value of the wrong type or out of range): exit 2;
- the package's typed errors (``ConfigError``, ``DatasetError``, ``CheckpointError``,
  ``TrainingDiverged``, ...) and a missing or unreadable file: exit 1;
- Ctrl-C: exit 130 (a closed output pipe, ``... | head``: exit 141, quietly).

``--debug`` anywhere on the command line (or ``DOM2LITE_DEBUG=1``) shows the traceback instead.
Anything else is a bug and keeps its traceback.
Explained in chapter 07 (the command line).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Callable

DEBUG_ENV = "DOM2LITE_DEBUG"


def debug_requested(argv: list[str]) -> tuple[bool, list[str]]:
    """``(debug?, argv without --debug)``: ``--debug`` may stand anywhere; ``DOM2LITE_DEBUG=1`` also counts."""
    env = os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")
    return env or "--debug" in argv, [a for a in argv if a != "--debug"]


def error_line(what: str, where: str | None, why: str, todo: str | None = None) -> str:
    """``error: what (where): why; todo`` (the parts that are None are left out)."""
    line = f"error: {what}" + (f" ({where})" if where else "") + f": {why}"
    return line + (f"; {todo}" if todo else "")


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line (no usage block) naming the option, exit 2.
    Sub-parsers made from it are of the same class."""

    def error(self, message: str):  # noqa: D102 (argparse's hook)
        todo = f"see {self.prog} --help"
        if m := re.match(r"argument (\S+?)(?:/\S+)?: (.*)$", message, re.S):
            line = error_line("bad option", m.group(1), m.group(2), todo)
        elif m := re.match(r"the following arguments are required: (.*)$", message, re.S):
            line = error_line("missing option", m.group(1), "required", todo)
        elif m := re.match(r"unrecognized arguments: (.*)$", message, re.S):
            line = error_line("unknown option", m.group(1), f"not an option of {self.prog}", todo)
        else:
            line = error_line("bad command line", self.prog, message, todo)
        self.exit(2, line + "\n")


def describe(exc: BaseException, prog: str) -> str | None:
    """The one-line report of an expected error, or None for an unexpected one (a bug: show it)."""
    from dom2lite.errors import (BackendMissing, ConfigError, Dom2liteError, FileFieldError, MissingFileError,
                                 TrainingDiverged)

    help_hint = f"see {prog} --help"
    if isinstance(exc, ConfigError):
        return error_line("bad configuration value", exc.field, getattr(exc, "reason", str(exc)),
                          exc.hint or help_hint)
    if isinstance(exc, FileFieldError):
        what = {"DatasetError": "bad data set", "CheckpointError": "bad checkpoint"}.get(type(exc).__name__,
                                                                                          "bad file")
        where = "in memory" if exc.path is None else str(exc.path)
        if exc.field is not None:
            where += f", field {exc.field}"
        todo = exc.hint or ("check the file, or make it again" if exc.path is not None else None)
        return error_line(what, where, exc.reason, todo)
    if isinstance(exc, TrainingDiverged):
        return error_line("training diverged", exc.quantity, f"{exc.value!r} at step {exc.step}",
                          exc.hint or "lower the learning rates (--set actor_lr=... --set critic_lr=...) "
                                      "or the conservatism weight, and start a new run")
    if isinstance(exc, BackendMissing):
        return error_line("optional package missing", exc.package, exc.reason, exc.hint)
    if isinstance(exc, MissingFileError):
        return error_line("file not found", str(exc.path), exc.reason, exc.hint)
    if isinstance(exc, Dom2liteError):
        return error_line(type(exc).__name__, None, str(exc), exc.hint)
    if isinstance(exc, (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)):
        what = {FileNotFoundError: "file not found", IsADirectoryError: "a folder, not a file",
                NotADirectoryError: "not a folder", PermissionError: "permission denied"}[type(exc)]
        where = exc.filename if exc.filename is not None else None
        why = exc.strerror if exc.filename is not None and exc.strerror else str(exc)
        return error_line(what, where, why, "check the path")
    if type(exc).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError
        return error_line("out of GPU memory", "--device", str(exc).splitlines()[0],
                          "use a smaller batch (--set batch_size=...) or --device cpu")
    return None


def run_reporting_errors(func: Callable[[], int], prog: str, debug: bool) -> int:
    """``func()``, with expected errors turned into one line on standard error and an exit status."""
    try:
        return int(func() or 0)
    except BrokenPipeError:  # `python -m dom2lite ... | head` closed the pipe: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the final flush does not fail
        return 141
    except KeyboardInterrupt:
        if debug:
            raise
        print("error: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 (sorted into expected and unexpected below)
        line = None if debug else describe(exc, prog)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 1
