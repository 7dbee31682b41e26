"""The command line: ``python -m dom2lite <command> ...`` (also installed as ``dom2lite``).

Each command group lives beside the code it drives and adds itself through a ``register(subparsers)``
function; this module only collects them. Run ``python -m dom2lite --help`` for the list.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

# (module, attribute) of every command group's register function, in --help order.
COMMAND_GROUPS: list[tuple[str, str]] = [
    ("dom2lite.data.cli", "register"),
    ("dom2lite.behaviour.cli", "register"),
    ("dom2lite.train.cli", "register"),
]


def parse_set(items: list[str] | None) -> dict:
    """``--set`` values: ``["cql_alpha=5", "hidden=[64,64]", "critic_input=state"]`` -> a dict, each value
    parsed as JSON where it parses (numbers, lists, booleans) and kept as a string otherwise."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise SystemExit(f"--set expects FIELD=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


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
    parser = argparse.ArgumentParser(
        prog="python -m dom2lite",
        description="DOM2: diffusion policies for offline multi-agent RL (data, training, evaluation).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="print versions, the active profile and the device")
    info.set_defaults(func=_info)
    for module, attr in COMMAND_GROUPS:
        getattr(importlib.import_module(module), attr)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
