"""The command line: arguments → a command module → exit code.

Thin on purpose. Each subcommand lives in ``foundry_dsl.cli.commands.<name>`` with
``add_arguments(parser)`` and ``run(args) -> int`` and is imported only when it
runs, so ``foundry --help`` never loads duckdb, pyarrow, fsspec or requests.
Every :class:`FoundryError` becomes its rendered message and exit 1; a
traceback is shown only with ``--debug``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from foundry_dsl import __version__

COMMANDS: dict[str, str] = {
    "init": "write a commented starter pipeline (api, db, files or custom)",
    "validate": "check pipeline files and print one line per pipeline",
    "fmt": "format pipeline files in the canonical layout",
    "plan": "show what apply would write, without writing anything",
    "apply": "run pipelines and land their data",
    "graph": "print the task graph as mermaid or dot",
    "state": "list, show, set or reset pipelines' stored cursors",
    "schema": "print the JSON Schema of the YAML front end",
}


DEBUG_HELP = "log DEBUG lines and show tracebacks"


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog="foundry",
        description="Land APIs, databases, files and custom sources into a Bronze lakehouse layer.",
    )
    parser.add_argument("--version", action="version", version=f"foundry {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers = {
        name: sub.add_parser(name, help=help_text, description=help_text)
        for name, help_text in COMMANDS.items()
    }
    return parser, subparsers


def main(argv: Sequence[str] | None = None) -> int:
    parser, subparsers = _parser()
    args_list = list(sys.argv[1:] if argv is None else argv)
    # a subcommand's own arguments are only known once its module is imported
    name = next((a for a in args_list if not a.startswith("-")), None)
    module = None
    if name in subparsers:
        module = importlib.import_module(f"foundry_dsl.cli.commands.{name}")
        module.add_arguments(subparsers[name])
        # SUPPRESS: without it the subcommand's default would undo `foundry --debug CMD`
        subparsers[name].add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP
        )
    args = parser.parse_args(args_list)
    if module is None:
        # nothing to do is a usage error, as for any other missing argument
        parser.print_help(sys.stderr)
        print("\nfoundry: error: name a command, e.g. foundry validate FILE", file=sys.stderr)
        return 2
    return run_guarded(module.run, args)


def run_guarded(fn: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    from foundry_dsl.errors import FoundryError

    try:
        return int(fn(args))
    except FoundryError as exc:
        if getattr(args, "debug", False):
            raise
        print(exc.render(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def console() -> None:
    """The ``foundry`` console command: :func:`main`, then a fast exit (cli/exit.py)."""
    from foundry_dsl.cli.exit import run_and_exit

    run_and_exit(main)


if __name__ == "__main__":
    console()
