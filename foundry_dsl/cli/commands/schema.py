"""`foundry schema [--output FILE]`: the JSON Schema of the YAML front end.

CLI layer. Prints (or writes) ``frontends.medallion.schema.schema()`` as JSON, so
an editor's YAML language server can complete and check pipeline configs,
e.g. with ``# yaml-language-server: $schema=foundry.schema.json`` at the top
of a config.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from foundry_dsl.errors import FoundryError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", "-o", metavar="FILE", help="write the schema to FILE instead of stdout"
    )


def run(args: argparse.Namespace) -> int:
    from foundry_dsl.frontends.medallion.schema import schema

    text = json.dumps(schema(), indent=2) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise FoundryError(
            f"cannot write the schema to {args.output}: {exc.strerror or exc}; "
            "check that the folder exists and is writable"
        ) from exc
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
