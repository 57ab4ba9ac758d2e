"""Files on disk → one validated :class:`ir.Project`, or a ConfigError with every problem.

The public entry point of the front ends: ``.bronze`` files go through
``frontends.bronze``, ``.yaml``/``.yml`` through ``frontends.medallion``. Checks
that span files (a ``system.table`` defined twice in one run) live here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from foundry_dsl import ir
from foundry_dsl.errors import ConfigError
from foundry_dsl.frontends.lower import Lowering
from foundry_dsl.frontends.positioned import paused_gc
from foundry_dsl.frontends.read import read_text, unreadable

YAML_SUFFIXES = (".yaml", ".yml")


def load(paths: Sequence[str]) -> ir.Project:
    """Compile every file; raise ConfigError listing all problems found."""
    # one pause for the whole run: resuming collection after each file made it walk
    # every object alive (pydantic's schemas included) again and again
    with paused_gc():
        return _load(paths)


def _load(paths: Sequence[str]) -> ir.Project:
    low = Lowering()
    sources: dict[str, str] = {}
    pipelines: list[ir.Pipeline] = []
    bronze = None
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix in YAML_SUFFIXES:
            pipelines.extend(_yaml(path, low, sources))
        elif suffix == ".bronze":
            if bronze is None:
                from foundry_dsl.frontends.bronze.resolve import BronzeFrontend

                bronze = BronzeFrontend(low, sources)
            pipelines.extend(bronze.compile_file(path))
        elif Path(path).is_dir():
            low.error(
                f"'{path}' is a directory",
                None,
                f"name the pipeline files in it, e.g. {Path(path) / '*.bronze'}",
            )
        else:
            low.error(
                f"don't know how to read '{path}'",
                None,
                "pipeline files end in .bronze, .yaml or .yml",
            )
    _check_unique(pipelines, low)
    if low.diagnostics:
        raise ConfigError(low.diagnostics, sources)
    platforms: dict[str, ir.Platform] = {}
    for p in pipelines:
        platforms.setdefault(p.platform.name, p.platform)
    return ir.Project(
        pipelines=tuple(pipelines),
        platforms=tuple(platforms.values()),
        files=tuple(paths),
    )


def _yaml(path: str, low: Lowering, sources: dict[str, str]) -> list[ir.Pipeline]:
    from foundry_dsl.frontends.medallion.compile import compile_yaml

    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        low.diagnostics.append(unreadable(path, exc))
        return []
    sources[path] = text
    return compile_yaml(path, text, low)


def _check_unique(pipelines: list[ir.Pipeline], low: Lowering) -> None:
    seen: dict[str, ir.Pipeline] = {}
    for p in pipelines:
        first = seen.get(p.name)
        if first is None:
            seen[p.name] = p
            continue
        low.error(
            f"pipeline {p.name} is defined twice in this run",
            p.span,
            f"the first definition is at {first.span}" if first.span else None,
        )
