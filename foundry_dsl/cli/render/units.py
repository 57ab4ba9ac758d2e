"""Rendering layer: numbers as people read them (sizes, counts, durations)."""

from __future__ import annotations


def human_bytes(n: int | None) -> str:
    """``8 MB`` for 8 MiB: binary units, as the language's ``8MB`` means."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if unit == "B":
            if value < 1024:
                return f"{int(value)} B"
        else:
            # the unit is chosen after rounding: 1023.96 KB shows as 1 MB, not 1024 KB
            text = f"{value:.1f}"
            if float(text) < 1024 or unit == "TB":
                text = text.rstrip("0").rstrip(".")
                return f"{text} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def human_count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def files(n: int | None) -> str:
    """``1 file``, ``2,000 files``: counted like every other number shown."""
    return f"{human_count(n)} file{'' if n == 1 else 's'}"


def human_seconds(s: float) -> str:
    if s < 60:
        text = f"{s:.1f}"
        if float(text) < 60:
            return f"{text}s"
        s = 60  # rounds up to a whole minute: shown as 1m00s, not 60.0s
    m, sec = divmod(int(s), 60)
    return f"{m}m{sec:02d}s"
