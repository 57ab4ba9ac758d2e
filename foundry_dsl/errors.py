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
import re
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
    #: the kind of problem, a code of :data:`CODES`; None: found from the message
    code: str | None = None

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

    def kind(self) -> Code:
        """Its entry in :data:`CODES`: the one it names, else the first whose pattern
        matches the message, else the catch-all."""
        return code_named(self.code) if self.code else code_of_message(self.message)

    def to_json(self) -> dict[str, Any]:
        """For editors and CI annotations (docs/diagnostics.md); never holds a secret,
        since the quoted source line is not part of it."""
        p = self.position
        kind = self.kind()
        return {
            "code": kind.code,
            "name": kind.name,
            "severity": self.severity,
            "message": self.message,
            "help": self.help,
            "notes": list(self.notes),
            "file": p.file if p else None,
            "line": p.line if p else None,
            "column": p.col if p else None,
            "end_line": (p.end_line or p.line) if p and p.end_col is not None else None,
            "end_column": p.end_col if p else None,
        }


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


def diagnostics_of(exc: FoundryError) -> list[Diagnostic]:
    """Every diagnostic an error carries: a ConfigError's, else one without a position."""
    if isinstance(exc, ConfigError):
        return list(exc.diagnostics)
    return [Diagnostic(exc.message)]


# --- codes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    """A kind of diagnostic, for editors and CI: a code and a name that never change
    meaning (docs/diagnostics.md). A retired kind keeps its code unused."""

    code: str
    name: str
    summary: str
    #: regular expressions over the message (``re.search``); the first entry whose
    #: pattern matches names the kind of a diagnostic that does not set its code
    patterns: tuple[str, ...] = ()


#: Every kind of diagnostic, in matching order (more specific patterns first).
#: tests/test_diagnostic_codes.py has an example of each, and checks that every
#: message of the error snapshots has a kind other than the catch-all.
CODES: tuple[Code, ...] = (
    Code("E001", "file-not-found", "a pipeline file or an imported file does not exist",
         (r"^file not found: ", r"^cannot import '.*': no such file", r"^no \.bronze files in ")),
    Code("E002", "file-unreadable", "a file cannot be read: a directory, not UTF-8, no access",
         (r"^cannot read ", r"^byte 0x[0-9a-f]+ is not UTF-8", r"^'.*' is a directory$",
          r"^don't know how to read ", r"^cannot import '.*': it is a directory")),
    Code("E003", "too-deep", "the file nests too deeply or expands too far to read",
         (r"^the file is nested too deeply", r"^aliases expand to more than")),
    Code("E070", "bad-argument", "a command-line argument that cannot be used",
         (r"^--[a-z-]+\b",)),
    Code("E071", "unsafe-partition-value", "a value that would not be a safe folder name",
         (r"becomes a folder name in the\s+partition path",)),
    Code("E011", "unterminated-string", "a string is not closed", (r"^unterminated ",)),
    Code("E012", "unclosed-bracket", "a '{', '[' or '(' is not closed", (r"^unclosed '",)),
    Code("E013", "block-with-equals", "a block written with '=' (auth = bearer { ... })",
         (r"blocks take no '='",)),
    Code("E014", "invalid-literal", "a number, date, size, duration, string escape or env() "
         "that cannot be read",
         (r"^invalid (escape|number|date|datetime)\b", r"^unknown (size |duration )?unit ",
          r"^a (size|duration) cannot be negative", r"is not a whole number of bytes",
          r"^unknown function ", r"^env\(\) ")),
    Code("E015", "invalid-yaml", "the YAML itself is wrong (a YAML pipeline file)",
         (r"^invalid YAML: ", r"^duplicate key ", r"^an alias refers to itself",
          r"^keys must be names", r"^a pipeline file must be a section of keys")),
    Code("E010", "syntax-error", "the .bronze text does not parse",
         (r"^unexpected ", r"^expected ", r"^missing value after '='", r"^'import' is ",
          r"^attribute '.*' outside of any block", r"^a (block kind|key) is a plain name")),
    Code("E020", "unknown-field", "a field or key that the block or section does not have",
         (r"^unknown field ", r"^unknown key ", r"^unknown block ", r" is not used by ")),
    Code("E022", "duplicate", "something defined or set twice, or two settings that mean "
         "the same", (r" is defined twice", r" is set twice", r"^give only one of ")),
    Code("E023", "unknown-kind", "a source, storage, auth or paginate kind that does not exist",
         (r"^unknown .*kind\b", r"^unknown storage backend ", r"^cannot import storage backend",
          r"^storage backend '.*' is not a StorageBackend")),
    Code("E024", "bad-reference", "a platform, template or import that cannot be used as named",
         (r"^unknown platform ", r"is based on itself", r"^import cycle: ",
          r"^platform must name a platform", r"^source takes one kind",
          r"takes at most one kind", r"^'.*' takes \d+ names?, got")),
    Code("E025", "bad-name", "a pipeline, system or table name that cannot be a folder name",
         (r"must be SYSTEM\.TABLE", r"is not a valid (name|system|table)\b")),
    Code("E030", "wrong-unit", "a size where a duration belongs, a quoted size, and so on",
         (r"^'.*' takes a (size|duration)\b", r"^'.*' must be .*, not a (size|duration)$",
          r"^'.*' must be a (size|duration), got ")),
    Code("E031", "not-a-list", "a single value where a list belongs: write [parquet]",
         (r"^'.*' must be a list\b",)),
    Code("E040", "literal-secret", "a secret written in the file instead of env(\"NAME\")",
         (r"is a secret and must not be written", r"holds a (secret|password)",
          r"must be the NAME of an environment variable")),
    Code("E032", "wrong-type", "a value of the wrong type (a string for a number, ...)",
         (r"^'.*' (in .* )?must be (a|an|true|the)\b", r"^'.*' cannot come from env\(\)",
          r"^'.*' needs a kind", r"^'.*' must be a block")),
    Code("E033", "invalid-value", "a value out of range, or not one of the allowed ones",
         (r"^invalid value ", r"^'.*' (in .* )?must be (at least|at most|greater|less)\b",
          r"needs (exactly|at least|at most) \d+ items")),
    Code("E050", "format-not-allowed", "formats the platform does not allow, or none at all",
         (r"^format .* is not allowed by platform", r"platform does not allow",
          r"^the platform allows no format", r"^nothing to write: ")),
    Code("E051", "setting-not-used", "a setting that the source kind does not use",
         (r"is only used by .* sources", r"is given but source\.type is")),
    Code("E021", "missing-field", "a required field, key or section is missing",
         (r"^missing required ", r"^the file has no pipeline", r" names no platform$",
          r"\bneeds\b")),
    Code("E060", "custom-module-not-found", "a custom source's module is not found in the "
         "pipeline's folder, foundry's stdlib/ or the Python path",
         (r"^cannot find module '.*' for the custom source",)),
    Code("E061", "custom-class-not-found", "a custom source's module defines no such class",
         (r"defines no class '",)),
    Code("E062", "custom-module-invalid", "a custom source's module is not valid Python",
         (r"^the custom source's module '.*' is not valid Python",)),
    Code("W001", "files-no-match", "a files source's path or glob matches no file (yet)",
         (r"^no file matches '",)),
    Code("E099", "error", "any other error (the catch-all: a message no entry above matches)"),
)

_BY_CODE: dict[str, Code] = {c.code: c for c in CODES}
_PATTERNS: tuple[tuple[re.Pattern[str], Code], ...] = tuple(
    (re.compile(p), c) for c in CODES for p in c.patterns
)
OTHER = _BY_CODE["E099"]


def code_named(code: str) -> Code:
    """The entry of ``code`` (``"E060"``) or of the name (``"custom-module-not-found"``)."""
    found = _BY_CODE.get(code) or next((c for c in CODES if c.name == code), None)
    if found is None:
        raise KeyError(f"no diagnostic code {code!r} in CODES")
    return found


def code_of_message(message: str) -> Code:
    for pattern, code in _PATTERNS:
        if pattern.search(message):
            return code
    return OTHER
