"""Rendering layer: plain-text layout that reproduces rich's, without rich's cost.

``plan_text`` lays a plan out as rich renders it (a head line, then a two-column
grid indented by 2, its value column word-wrapped with ``overflow="fold"``).
Measuring and rendering a rich ``Table`` for each of hundreds of pipelines cost
more than everything else in ``foundry plan``, so piped output is laid out here
with plain strings, to the same characters: the same word breaks
(``rich._wrap.divide_line``), the same column widths
(``Table._calculate_column_widths`` for a grid of a no-wrap key column and a
folding value column) and the same trailing-space stripping.

Only text that is printable ASCII (plus line breaks between lines) is laid out
here, where one character is one cell and rich changes nothing; for anything
else (wide or combining characters, tabs, control codes) :func:`grid` and
:func:`wrap` return None and the caller asks rich. ``tests/cli`` checks the two
agree on many generated inputs and widths.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

__all__ = ["grid", "simple", "wrap"]

_WORD = re.compile(r"\s*\S+\s*")
#: printable ASCII, and line breaks (a value may hold several lines)
_SIMPLE = re.compile(r"[\x20-\x7e\n]*")


def simple(text: str) -> bool:
    """One character is one cell and rich would keep every character as it is."""
    return _SIMPLE.fullmatch(text) is not None


def _breaks(line: str, width: int) -> list[int]:
    """Where rich breaks ``line`` at ``width`` (``divide_line`` with ``fold=True``):
    before a word that does not fit, and inside a word longer than the width."""
    breaks: list[int] = []
    offset = 0
    for match in _WORD.finditer(line):
        start, word = match.start(), match.group()
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width:
            # folded: a break at each multiple of the width, the rest starts a line
            chunks = range(0, len(word), width)
            for i, at in enumerate(chunks):
                if start + at:
                    breaks.append(start + at)
                if i == len(chunks) - 1:
                    offset = len(word) - at
        elif offset and start:
            breaks.append(start)
            offset = len(word)
    return breaks


def _wrap_line(line: str, width: int) -> list[str]:
    """One line wrapped at ``width``, each piece cropped to it and right-stripped
    (what rich prints, once trailing spaces are stripped)."""
    if len(line) <= width:
        return [line.rstrip()]
    cuts = [0, *_breaks(line, width), len(line)]
    return [line[a:b][:width].rstrip() for a, b in itertools.pairwise(cuts)]


def wrap(text: str, width: int) -> list[str] | None:
    """``text`` as rich prints a ``Text`` of it at ``width`` columns, lines right-stripped;
    None when the text is not :func:`simple`."""
    if width < 1 or not simple(text):
        return None
    return [piece for line in text.split("\n") for piece in _wrap_line(line, width)]


def grid(rows: Sequence[tuple[str, str]], width: int, indent: int = 2) -> list[str] | None:
    """Rows of ``key  value`` as rich prints ``Padding(Table.grid(padding=(0, 2)), (0, 0,
    0, indent))`` with a no-wrap key column and an ``overflow="fold"`` value column, at
    ``width`` columns, lines right-stripped. None where rich would do something this
    does not (text that is not :func:`simple`, a key column too wide for the width)."""
    if not rows:
        return None
    key_width = max(len(k) for k, _ in rows) + 2  # the keys, and the 2 columns between
    value_lines = [v.split("\n") for _, v in rows]
    widest = max((len(line) for lines in value_lines for line in lines), default=0)
    # the grid is as wide as its content, at most the width less the indent; the value
    # column gives up what does not fit (the key column never wraps)
    room = min(key_width + widest, width - indent) - key_width
    # no value at all: rich gives the value column no width, a case not worth copying
    if widest == 0 or room < 1 or any(not simple(k) or "\n" in k for k, _ in rows):
        return None
    if any(not simple(v) for _, v in rows):
        return None
    pad = " " * indent
    blank = " " * key_width
    out: list[str] = []
    for (key, _), lines in zip(rows, value_lines, strict=True):
        pieces = [piece for line in lines for piece in _wrap_line(line, room)]
        first = f"{pad}{key:<{key_width}}"
        for i, piece in enumerate(pieces):
            out.append(f"{first if i == 0 else pad + blank}{piece}".rstrip())
    return out
