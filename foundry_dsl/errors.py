"""One exception family for everything a user can get wrong, and how it is shown.

Every layer raises a subclass of :class:`FoundryError`. Config errors carry
:class:`Diagnostic` values with positions; runtime errors carry a message that
names the pipeline and what to do next. Nothing here imports the rest of foundry.

    FoundryError
    ├── ConfigError        a pipeline file (.bronze or YAML) is wrong; has diagnostics
    ├── PlanError          the IR cannot be planned (unsafe partition value, ...)
    ├── ExtractError       a source failed (HTTP, ODBC, files, custom code)
    ├── StorageError       a storage backend failed
    └── CommitError        the commit protocol could not complete

``transient`` marks failures that a retry may cure, so retry decisions never
parse message text.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_SHOWN = 50


@dataclass(frozen=True, order=True)
class Position:
    """Where something was written: 1-based line and column."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a file, as a value: what, where, and how to fix it."""

    message: str
    position: Position | None = None
    help: str | None = None
    severity: str = "error"
    notes: tuple[str, ...] = field(default=())
    #: where secrets were written (a literal token, a password in a URL): the
    #: quoted source line shows ``***`` there, so an error never prints a secret
    secret_spans: tuple[Position, ...] = field(default=())

    def sort_key(self) -> tuple[str, int, int, str]:
        p = self.position
        return (p.file, p.line, p.col, self.message) if p else ("", 0, 0, self.message)

    def render(
        self, source_text: str | None = None, also_hide: Iterable[Position] = ()
    ) -> str:
        """`path:line:col: error: message`, the line with a caret, then `= help:`.
        The secrets of this diagnostic, and ``also_hide``, are masked in the line."""
        head = f"{self.severity}: {self.message}"
        if self.position is None:
            lines = [head]
        else:
            lines = [f"{self.position}: {head}"]
            hidden = (*self.secret_spans, *also_hide)
            snippet = _snippet(self.position, source_text, hidden)
            if snippet:
                lines.extend(snippet)
        lines.extend(f"   = note: {n}" for n in self.notes)
        if self.help:
            lines.append(f"   = help: {self.help}")
        return "\n".join(lines)


def _snippet(
    pos: Position, source_text: str | None, hidden: Iterable[Position] = ()
) -> list[str]:
    if source_text is None:
        try:
            with open(pos.file, encoding="utf-8") as fh:
                source_text = fh.read()
        except (OSError, UnicodeDecodeError):
            return []
    src_lines = source_text.splitlines()
    if not 1 <= pos.line <= len(src_lines):
        return []
    text = src_lines[pos.line - 1].expandtabs(1)
    num = str(pos.line)
    pad = " " * len(num)
    width = 1
    if pos.end_col is not None and (pos.end_line in (None, pos.line)) and pos.end_col > pos.col:
        width = pos.end_col - pos.col
    width = max(1, min(width, max(1, len(text) - pos.col + 1)))
    ranges = _ranges_on(pos.file, pos.line, len(text), hidden)
    text, start, end = _mask(text, ranges, pos.col, pos.col + width)
    return [
        f"{pad} |",
        f"{num} | {text}",
        f"{pad} | {' ' * (start - 1)}{'^' * max(1, end - start)}",
    ]


MASK = "***"


def _ranges_on(
    file: str, line: int, length: int, spans: Iterable[Position]
) -> list[tuple[int, int]]:
    """The columns ``[a, b)`` of ``line`` that ``spans`` cover, merged, in order."""
    ranges: list[tuple[int, int]] = []
    for s in spans:
        last = s.end_line if s.end_line is not None else s.line
        if s.file != file or not s.line <= line <= last:
            continue
        a = s.col if s.line == line else 1
        # a span that does not say where it ends hides the rest of the line
        b = s.end_col if last == line and s.end_col is not None else length + 1
        a, b = max(1, a), min(b, length + 1)
        if a < b:
            ranges.append((a, b))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def _mask(text: str, ranges: list[tuple[int, int]], start: int, end: int) -> tuple[str, int, int]:
    """``text`` with each range replaced by ``***``, and the caret's columns
    ``[start, end)`` moved to stay under what they pointed at."""
    for a, b in reversed(ranges):  # right to left: earlier columns stay valid
        shift = (b - a) - len(MASK)
        text = text[: a - 1] + MASK + text[b - 1 :]
        start = start - shift if start >= b else (a if start > a else start)
        end = end - shift if end >= b else (a + len(MASK) if end > a else end)
    return text, start, end


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """The closest candidate, phrased as help, or None when nothing is close."""
    pool = sorted(set(candidates))
    match = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in pool}
        match = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        match = [lowered[m] for m in match]
    return f"did you mean '{match[0]}'?" if match else None


class FoundryError(Exception):
    """Base of every error foundry shows to a user."""

    transient: bool = False

    def __init__(self, message: str, *, transient: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        if transient is not None:
            self.transient = transient

    def render(self) -> str:
        return f"error: {self.message}"


class ConfigError(FoundryError):
    """A pipeline file is wrong. Holds every diagnostic found, sorted by position."""

    def __init__(
        self, diagnostics: Sequence[Diagnostic], sources: dict[str, str] | None = None
    ) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        self.sources = dict(sources or {})
        first = self.diagnostics[0] if self.diagnostics else Diagnostic("invalid configuration")
        super().__init__(first.message)

    def render(self) -> str:
        shown = self.diagnostics[:MAX_SHOWN]
        # every secret found anywhere is hidden from every snippet: another error
        # on the same line must not show what this one hides
        secrets = [s for d in self.diagnostics for s in d.secret_spans]
        parts = [
            d.render(self.sources.get(d.position.file) if d.position else None, secrets)
            for d in shown
        ]
        if len(self.diagnostics) > MAX_SHOWN:
            parts.append(f"... and {len(self.diagnostics) - MAX_SHOWN} more errors")
        n = len(self.diagnostics)
        parts.append(f"{n} error{'s' if n != 1 else ''} found")
        return "\n\n".join(parts[:-1]) + "\n\n" + parts[-1]

    @classmethod
    def single(
        cls,
        message: str,
        position: Position | None = None,
        help: str | None = None,
        source: tuple[str, str] | None = None,
    ) -> ConfigError:
        return cls([Diagnostic(message, position, help)], dict([source]) if source else None)


class PlanError(FoundryError):
    """The IR is valid but cannot be planned (e.g. an unsafe partition value)."""


class ExtractError(FoundryError):
    """A source failed while extracting."""


class StorageError(FoundryError):
    """A storage backend operation failed."""


class CommitError(FoundryError):
    """The commit protocol could not complete; the previous partition is intact."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret (longest first) with ***."""
    for s in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(s, "***")
    return text


def redact_json(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` (JSON-like) with every secret in its strings, keys too, replaced by ***."""
    secrets = list(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact(str(k), secrets): redact_json(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_json(v, secrets) for v in value]
    return value
