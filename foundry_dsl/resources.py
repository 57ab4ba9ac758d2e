"""Where the files that ship with foundry live: the grammar and the stdlib.

In a wheel they are packaged under ``foundry_dsl/_grammar`` and
``foundry_dsl/_stdlib``; in a source checkout (editable install, tests) they
are the repository's top-level ``grammar/`` and ``stdlib/``.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for c in candidates:
        if c.exists():
            return c
    return candidates[-1]


def grammar_path() -> Path:
    return _first_existing(_PACKAGE / "_grammar" / "bronze.lark", _PACKAGE.parent / "grammar" / "bronze.lark")


def stdlib_dir() -> Path:
    return _first_existing(_PACKAGE / "_stdlib", _PACKAGE.parent / "stdlib")
