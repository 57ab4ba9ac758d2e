"""Front-end layer: reading a pipeline file's text, and saying plainly why it cannot be read.

``compile.load`` (YAML), the `.bronze` front end and ``foundry fmt`` all read
files the same way, so a directory, a missing file or bytes that are not UTF-8
give the same one-line message everywhere instead of Python's wording.
"""

from __future__ import annotations

from pathlib import Path

from foundry_dsl.errors import Diagnostic, Position


def read_text(path: str) -> str:
    """The file as text; raises OSError or UnicodeDecodeError (see :func:`unreadable`)."""
    return Path(path).read_text(encoding="utf-8")


def unreadable(path: str, exc: OSError | UnicodeDecodeError) -> Diagnostic:
    """Why ``path`` could not be read; a byte that is not UTF-8 gets its line and column."""
    if isinstance(exc, FileNotFoundError):
        return Diagnostic(f"file not found: {path}")
    if isinstance(exc, IsADirectoryError):
        return Diagnostic(f"cannot read {path}: it is a directory", None, "name the pipeline files in it")
    if isinstance(exc, UnicodeDecodeError):
        before = exc.object[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        bad = exc.object[exc.start : exc.start + 1].hex()
        return Diagnostic(
            f"byte 0x{bad} is not UTF-8 text",
            Position(path, line, col),
            "save the file as UTF-8",
        )
    return Diagnostic(f"cannot read {path}: {exc.strerror or exc}")
