"""``python -m dom2lite data ...``: inspect (``card``) and make (``generate``) offline data sets.

``data card PATH`` prints the card of a data set (``PATH`` is the ``.npz`` or its ``.card.json``) and
checks the data file against it; the exit code is 1, with the typed error's one-line message, when
anything is wrong. ``data generate`` lives in ``dom2lite.data.generate`` and is added here.
Explained in chapter 02 (the offline multi-agent setting).
"""

from __future__ import annotations

import argparse
import json


def _card_cmd(args: argparse.Namespace) -> int:
    from dom2lite.data.card import read_card
    from dom2lite.data.dataset import OfflineDataset
    from dom2lite.data.paths import card_path, data_path_of_card
    from dom2lite.errors import MissingFileError

    data_file = data_path_of_card(args.path)
    if not data_file.exists() and not card_path(data_file).exists():
        raise MissingFileError(data_file, "no such data set (neither the file nor its card exists)",
                               hint="check the path, or make it with: python -m dom2lite data generate --help")
    card = read_card(card_path(data_file))  # a DatasetError naming the card is reported by the command line
    print(json.dumps(card, indent=2, sort_keys=True))
    if args.no_validate:
        return 0
    ds = OfflineDataset.load(data_file, validate=True, check_versions=not args.no_check_versions)
    print(f"OK: {data_file} matches its card ({ds.n_transitions} transitions, {ds.n_episodes} episodes, "
          f"{ds.n_agents} agents)")
    return 0


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``data`` command group (``card``, ``generate``) to the top-level sub-parsers."""
    data = subparsers.add_parser("data", help="offline data sets: print a card, generate data sets",
                                 description="Offline data sets: inspect and validate cards, generate data.")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    card = sub.add_parser("card", help="print a data set's card and check the file against it",
                          description="Print the card of PATH (.npz or .card.json) and validate the file.")
    card.add_argument("path", metavar="PATH", help="the data file (.npz) or its card (.card.json)")
    card.add_argument("--no-validate", action="store_true", help="only print the card")
    card.add_argument("--no-check-versions", action="store_true",
                      help="accept data generated with other environment package versions")
    card.set_defaults(func=_card_cmd)

    from dom2lite.data.generate import add_generate_parser  # behaviour code loads only when the CLI is built

    add_generate_parser(sub)
    data.set_defaults(func=lambda _args: (data.print_help(), 2)[1])
    return data
