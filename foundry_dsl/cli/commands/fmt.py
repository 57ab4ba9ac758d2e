"""`foundry fmt [--check] FILE...`: rewrite `.bronze` files in the canonical layout.

With ``--check`` nothing is written: the files that would change are listed
and the exit code is 1 when there is any.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from foundry_dsl.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help=".bronze files")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file would change"
    )


def run(args: argparse.Namespace) -> int:
    from foundry_dsl.frontends.fmt import format_text
    from foundry_dsl.frontends.read import read_text, unreadable

    changed: list[str] = []
    errors: list[ConfigError] = []
    checked = 0
    for name in args.files:
        path = Path(name)
        if path.suffix != ".bronze":
            print(f"skipped {name}: fmt formats .bronze files", file=sys.stderr)
            continue
        try:
            text = read_text(name)
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(ConfigError([unreadable(name, exc)]))
            continue
        checked += 1
        try:
            formatted = format_text(text, name)
        except ConfigError as exc:
            errors.append(exc)
            continue
        if formatted != text:
            changed.append(name)
            if not args.check:
                path.write_text(formatted, encoding="utf-8")
    if errors:
        raise ConfigError(
            [d for e in errors for d in e.diagnostics],
            {k: v for e in errors for k, v in e.sources.items()},
        )
    verb = "would reformat" if args.check else "reformatted"
    for name in changed:
        print(f"{verb} {name}")
    if not changed:
        print(f"{checked} file{'s' if checked != 1 else ''} already formatted")
    return 1 if args.check and changed else 0

