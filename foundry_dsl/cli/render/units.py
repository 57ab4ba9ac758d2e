"""Rendering layer: numbers as people read them (sizes, counts, durations)."""

from __future__ import annotations


def human_bytes(n: int | None) -> str:
    """``8 MB`` for 8 MiB: binary units, as the language's ``8MB`` means."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            if unit == "B":
                return f"{int(value)} B"
            text = f"{value:.1f}".rstrip("0").rstrip(".")
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
        return f"{s:.1f}s"
    m, sec = divmod(int(s), 60)
    return f"{m}m{sec:02d}s"
