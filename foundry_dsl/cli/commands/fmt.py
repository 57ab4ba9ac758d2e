"""`foundry fmt [--check] PATH...`: rewrite `.bronze` files in the canonical layout.

A directory stands for every ``.bronze`` file below it (hidden folders such as
``.git`` and ``.venv`` skipped); YAML configs are never rewritten. Finding no
``.bronze`` file in a directory given is an error, so ``fmt --check .`` in the
wrong folder cannot pass by checking nothing. With ``--check`` nothing is
written: the files that would change are listed and the exit code is 1 when
there is any.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from foundry_dsl.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files", nargs="+", metavar="PATH", help=".bronze files, or directories to search"
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a file would change"
    )


def run(args: argparse.Namespace) -> int:
    from foundry_dsl.frontends.fmt import format_text
    from foundry_dsl.frontends.read import read_text, unreadable

    changed: list[str] = []
    errors: list[ConfigError] = []
    checked = 0
    for name in _expand(args.files):
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



def _expand(names: list[str]) -> list[str]:
    """Each directory replaced by the ``.bronze`` files below it, sorted; others as given."""
    out: list[str] = []
    empty: list[str] = []
    for name in names:
        if not Path(name).is_dir():
            out.append(name)
            continue
        found = sorted(_bronze_files(Path(name)))
        if not found:
            empty.append(name)
        out.extend(str(f) for f in found)
    if empty:
        where = ", ".join(empty)
        raise ConfigError.single(
            f"no .bronze files in {where} (searched every folder below it, hidden ones skipped)",
            help="name the pipeline files or the folder that holds them; "
            "fmt formats .bronze files, never YAML",
        )
    return out


def _bronze_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for entry in folder.iterdir():
        if entry.name.startswith("."):
            continue  # .git, .venv, .cache: never a project's pipelines
        if entry.is_dir() and not entry.is_symlink():
            found.extend(_bronze_files(entry))
        elif entry.suffix == ".bronze" and entry.is_file():
            found.append(entry)
    return found
