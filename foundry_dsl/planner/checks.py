"""Planner layer: what a run needs from the machine it runs on, checked ahead of it.

Two things make ``apply`` fail at once although the plan looks fine: an
environment variable the pipeline reads is not set, and something its source
kind can see from the IR alone is wrong (a glob that matches no file, a custom
module that is not there; each kind's ``Extractor.preflight`` says). Both are
found here without contacting a source or running user code, and handed on as
values the plan carries: :class:`EnvVar` (names and whether they are set, never
values) and warning :class:`~foundry_dsl.errors.Diagnostic` values.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from foundry_dsl import ir
from foundry_dsl.errors import Diagnostic, Position

#: ``empty``: set to nothing or only whitespace, which a run refuses like an unset one
Status = Literal["set", "not set", "empty"]


@dataclass(frozen=True)
class EnvVar:
    """An environment variable a pipeline reads: its name and whether it is set."""

    name: str
    status: Status
    #: False for the spec's cursor variable: unset, the start cursor comes from storage
    required: bool
    uses: tuple[str, ...]  # the settings that read it: "source.connection", ...
    position: Position | None  # where it was first written

    @property
    def missing(self) -> bool:
        """A run would stop at once for it."""
        return self.required and self.status != "set"

    def to_json(self) -> dict[str, Any]:
        p = self.position
        return {
            "name": self.name,
            "status": self.status,
            "set": self.status == "set",
            "required": self.required,
            "uses": list(self.uses),
            "file": _shown(p.file) if p else None,
            "line": p.line if p else None,
            "column": p.col if p else None,
        }


def env_vars(p: ir.Pipeline) -> tuple[EnvVar, ...]:
    """Every variable the pipeline reads, in the order written (source, then storage);
    a variable used twice is listed once, with each use."""
    from foundry_dsl.sources.registry import cursor_env_name

    found: dict[str, tuple[bool, list[str], Position | None]] = {}

    def add(name: str, required: bool, use: str, at: Position | None) -> None:
        was = found.get(name)
        if was is None:
            found[name] = (required, [use], at)
        else:
            found[name] = (was[0] or required, [*was[1], use], was[2] or at)

    for use, ref in _refs(p.source, "source"):
        add(ref.name, True, use, ref.span)
    cursor = cursor_env_name(p.source)
    if cursor:
        use, at = _setting(p.source, "source", "cursor_env") or ("source.cursor_env", None)
        add(cursor, False, use, at)
    if p.run.storage_enabled:  # else the platform's storage is not used
        for use, ref in _refs(p.platform.storage, "platform.storage"):
            add(ref.name, True, use, ref.span)
    return tuple(
        EnvVar(name, _status(name), required, tuple(uses), at)
        for name, (required, uses, at) in found.items()
    )


def preflight(p: ir.Pipeline, base_dir: Path, work_dir: Path | None = None) -> tuple[Diagnostic, ...]:
    """What the source kind sees wrong from the IR alone, as warnings (``plan``)."""
    from foundry_dsl.sources.registry import extractor_class

    found = extractor_class(p.source.kind).preflight(p.source, base_dir, work_dir)
    return tuple(replace(d, severity="warning") for d in found)


def _shown(file: str) -> str:
    """A file as the plan shows it: relative to the current directory when inside it
    (an imported stdlib/ file is found by absolute path), so plans stay the same
    wherever the project is checked out."""
    try:
        return Path(file).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return file


def _status(name: str) -> Status:
    value = os.environ.get(name)
    if value is None:
        return "not set"
    return "set" if value.strip() else "empty"


def _refs(value: Any, path: str) -> Iterator[tuple[str, ir.EnvRef]]:
    """``(setting, env ref)`` for every ``env("NAME")`` inside ``value``."""
    if isinstance(value, ir.EnvRef):
        yield path, value
    elif isinstance(value, BaseModel):
        for name, item in value:
            if name != "span":
                yield from _refs(item, f"{path}.{name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _refs(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _refs(item, f"{path}[{i}]")


def _setting(node: Any, path: str, field: str) -> tuple[str, Position | None] | None:
    """Where the first ``field`` inside ``node`` is set: its path and position."""
    if not isinstance(node, ir.Node):
        return None
    if field in type(node).model_fields and getattr(node, field) is not None:
        return f"{path}.{field}", node.span_of(field)
    for name, item in node:
        found = _setting(item, f"{path}.{name}", field)
        if found:
            return found
    return None
