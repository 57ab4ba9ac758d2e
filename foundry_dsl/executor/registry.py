"""Executors: one entry per kind, loaded on first use.

``local`` (threads in this process) is built in; other executors (a cluster's)
come in through the ``foundry.executors`` entry point group, named as they are
chosen on the command line. An entry is a class implementing
:class:`~foundry_dsl.executor.base.Executor`, constructed with keyword options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from foundry_dsl import plugins

if TYPE_CHECKING:
    from foundry_dsl.executor.base import Executor

ENTRY_POINT_GROUP = "foundry.executors"

#: name → "module:Class"
BUILTIN: dict[str, str] = {
    "local": "foundry_dsl.executor.local:LocalExecutor",
    "dask": "foundry_dsl.executor.dask:DaskExecutor",
}


def names() -> list[str]:
    return plugins.names(BUILTIN, ENTRY_POINT_GROUP)


def executor_class(name: str) -> type[Executor]:
    cls: type[Executor] = plugins.load(BUILTIN, ENTRY_POINT_GROUP, name, "executor")
    return cls


def executor_for(name: str, **options: Any) -> Executor:
    """A new executor ``name`` with its options (e.g. ``parallel=4`` for ``local``)."""
    return executor_class(name)(**options)
