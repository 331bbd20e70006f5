"""`switchyard`: the one command-line entry point; each command lives in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module exposes register(subparsers) and sets `func` on its parsers.
COMMAND_MODULES = (
    "switchyard.cli.run",
    "switchyard.cli.certs",
    "switchyard.cli.demo",
    "switchyard.cli.models",
    "switchyard.cli.policy",
    "switchyard.cli.breakers",
    "switchyard.cli.verifier",
    "switchyard.cli.datasets",
    "switchyard.cli.train",
    "switchyard.cli.profile",
    "switchyard.cli.evaluate",
    "switchyard.cli.route",
    "switchyard.cli.decisions",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="switchyard", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    _describe(parser)
    return parser


def _describe(parser: argparse.ArgumentParser) -> None:
    """Every command's own --help opens with the line its parent lists it with, so
    `switchyard train router --help` says what the command does."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help for choice in action._choices_actions}
        for name, child in action.choices.items():
            if child.description is None and helps.get(name):
                # A help string is %-formatted by argparse; a description is not.
                child.description = helps[name].replace("%%", "%")
            _describe(child)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
