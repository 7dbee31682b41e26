"""The command line: ``python -m dom2lite <command> ...`` (also installed as ``dom2lite``).

Each command group lives beside the code it drives and adds itself through a ``register(subparsers)``
function; this module only collects them. Run ``python -m dom2lite --help`` for the list.
Every expected failure is one line ``error: <what> (<field or file>): <why>; <what to do>`` and a
non-zero exit (``dom2lite.cli_errors``); ``--debug`` or ``DOM2LITE_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from dom2lite.cli_errors import OneLineParser, debug_requested, run_reporting_errors
from dom2lite.cli_values import parse_set  # noqa: F401 (the command groups' --set parser, kept importable here)

# (module, attribute) of every command group's register function, in --help order.
COMMAND_GROUPS: list[tuple[str, str]] = [
    ("dom2lite.data.cli", "register"),
    ("dom2lite.behaviour.cli", "register"),
    ("dom2lite.train.cli", "register"),
    ("dom2lite.sweep.cli", "register"),
]


def _info(args: argparse.Namespace) -> int:
    import dom2lite
    from dom2lite.provenance import package_versions

    print(json.dumps({
        "dom2lite": dom2lite.__version__,
        "profile": dom2lite.current_profile().value,
        "device": str(dom2lite.resolve_device()),
        "versions": package_versions(),
    }, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m dom2lite",
        description="DOM2: diffusion policies for offline multi-agent RL (data, training, evaluation).",
        epilog="Errors are one line; add --debug anywhere (or set DOM2LITE_DEBUG=1) to see the traceback.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks (may also follow the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="print versions, the active profile and the device")
    info.set_defaults(func=_info)
    for module, attr in COMMAND_GROUPS:
        getattr(importlib.import_module(module), attr)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    debug, argv = debug_requested(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv  # what the commands record as the command that made their output
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    words = [getattr(args, k, None) for k in ("command", "data_command", "behaviour_command")]
    prog = " ".join(["python -m dom2lite", *[w for w in words if w]])
    return run_reporting_errors(lambda: args.func(args), prog, debug)


if __name__ == "__main__":
    sys.exit(main())
