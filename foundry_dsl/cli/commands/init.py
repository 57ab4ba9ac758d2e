"""CLI layer: ``foundry init KIND NAME``: write a commented starter pipeline ``NAME.bronze``.

KIND is a source kind (api, db, files, custom). NAME is ``SYSTEM.TABLE`` or just
``SYSTEM`` (the table is then the starter's own), optionally in a folder:
``foundry init api pipelines/github`` writes ``pipelines/github.bronze``. A custom
starter also writes the Python module it names. An existing file is never
overwritten. The texts are in :mod:`foundry_dsl.cli.starters`.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from foundry_dsl.cli.starters import KINDS
from foundry_dsl.errors import FoundryError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=KINDS, metavar="KIND", help=f"one of: {', '.join(KINDS)}")
    parser.add_argument(
        "name", metavar="NAME",
        help="SYSTEM.TABLE or SYSTEM, optionally in a folder (pipelines/github)",
    )


def run(args: argparse.Namespace) -> int:
    from foundry_dsl.cli.starters import CUSTOM_MODULE, TABLES, starter

    given = Path(args.name)
    stem = given.name.removesuffix(".bronze")
    system, _, table = stem.partition(".")
    table = table or TABLES[args.kind]
    _check_name(stem, system, table)
    folder = given.parent
    if not folder.is_dir():
        raise FoundryError(f"cannot write {folder / (stem + '.bronze')}: no folder {folder}")
    target = folder / f"{stem}.bronze"
    module = _module_name(system, table)
    files = {target: starter(
        args.kind, file=target.as_posix(), name=args.name, system=system, table=table,
        module=module,
    )}
    if args.kind == "custom":
        files[folder / f"{module}.py"] = CUSTOM_MODULE.format(
            file=target.as_posix(), class_name="StarterSource"
        )
    taken = [str(f) for f in files if f.exists() or f.is_symlink()]
    if taken:
        raise FoundryError(
            f"{' and '.join(taken)} already exist{'s' if len(taken) == 1 else ''}; "
            "foundry init never overwrites a file: choose another NAME or move it away"
        )
    for path, text in files.items():
        try:
            with open(path, "x", encoding="utf-8") as fh:  # "x": never over a file made meanwhile
                fh.write(text)
        except OSError as exc:
            raise FoundryError(f"cannot write {path}: {exc.strerror or exc}") from exc
        print(f"wrote {path}")
    print(f"next: foundry validate {target}, then foundry plan {target}")
    return 0


def _check_name(stem: str, system: str, table: str) -> None:
    from foundry_dsl.ir import NAME_RE

    for word in (system, table):
        if not NAME_RE.match(word):
            raise FoundryError(
                f"'{stem}' is not a pipeline name: write SYSTEM.TABLE or SYSTEM, each of "
                "ASCII letters, digits, '_' and '-' (e.g. foundry init api github.issues)"
            )


def _module_name(system: str, table: str) -> str:
    """A Python module name for a custom starter: ``shop_readings``."""
    name = re.sub(r"\W", "_", f"{system}_{table}")
    return name if name[0].isalpha() else f"source_{name}"
