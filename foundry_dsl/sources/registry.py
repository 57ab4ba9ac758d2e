"""Source kinds: one entry per kind, its extractor loaded on first use.

Everything the rest of foundry asks about a kind (how it reads, splits, estimates,
describes itself in a plan, which cursor variable it reads) is a method of the
kind's extractor class, so a new kind is its IR model, its module and one line
in :data:`BUILTIN`. The modules load only when a kind is used, which keeps
``foundry --help`` fast.

Installed packages add kinds through the ``foundry.sources`` entry point group
(``name = "package.module:ExtractorClass"``). They have no IR model of their
own: ``source NAME { ... }`` compiles to a custom source of that class with the
block's fields as its params (the extractor reads ``source.params``).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from foundry_dsl import plugins

if TYPE_CHECKING:
    from foundry_dsl import ir
    from foundry_dsl.sources.base import Extractor

ENTRY_POINT_GROUP = "foundry.sources"

#: kind → "module:ExtractorClass"
BUILTIN: dict[str, str] = {
    "api": "foundry_dsl.sources.api:ApiExtractor",
    "custom": "foundry_dsl.sources.custom:CustomExtractor",
    "db": "foundry_dsl.sources.db:DbExtractor",
    "files": "foundry_dsl.sources.files:FilesExtractor",
    "sequence": "foundry_dsl.sources.sequence:SequenceExtractor",
}


def installed_kinds() -> dict[str, str]:
    """Kinds of installed packages: ``name → "module:Class"``."""
    return {k: v for k, v in plugins.installed(ENTRY_POINT_GROUP).items() if k not in BUILTIN}


@functools.cache
def extractor_class(kind: str) -> type[Extractor]:
    """The extractor class of an IR source kind; a PlanError with did-you-mean otherwise."""
    # an installed kind has no IR model: it compiles to a custom source (see above)
    cls: type[Extractor] = plugins.load(BUILTIN, None, kind, "source kind")
    return cls


def extractor_for(source: ir.Source) -> Extractor:
    """A new extractor for ``source``."""
    return extractor_class(source.kind)(source)


def cursor_env_name(source: ir.Source) -> str | None:
    """The spec's cursor env variable of an incremental source, if it names one."""
    return extractor_class(source.kind).cursor_env(source)


def env_cursor(pipeline: ir.Pipeline) -> str | None:
    """The spec's cursor variable when it is set (and not empty); it overrides the state."""
    import os

    env = cursor_env_name(pipeline.source)
    value = os.environ.get(env) if env else None
    return value or None
