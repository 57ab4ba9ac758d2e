"""Storage layer: the storage kinds, one entry each, and the backend a pipeline writes to.

Everything the rest of foundry asks about a storage kind is in its :class:`Kind`
entry in :data:`KINDS`: how to build its backend from the IR's storage block,
the root URL ``foundry plan`` shows, the conditional writes its leases are built
on, and the package it needs with the extra that installs it. A kind's code is
a module named by dotted path and imported on first use, so ``foundry --help``
and ``foundry plan`` on local disk load no store's code. Third-party backends
come in through the ``custom`` kind: a dotted class path, or an entry point of
the ``foundry.storage`` group (``custom.py``).

:func:`backend_for` builds a pipeline's backend, resolving the ``env(...)``
secrets of its storage block at run time only; :func:`backend_root_url` renders
where a pipeline lands without contacting anything or reading a secret.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from foundry_dsl import ir
from foundry_dsl.errors import ConfigError, FoundryError, StorageError

if TYPE_CHECKING:
    from foundry_dsl.storage.base import StorageBackend
    from foundry_dsl.storage.conditional import ConditionalWrites


@dataclass(frozen=True)
class Kind:
    """One storage kind, under the name its IR model carries in ``kind``."""

    name: str
    #: dotted path of the kind's module, which defines ``build(storage, context)`` and
    #: ``root_url(storage)`` for the kind's IR model
    module: str
    #: the module's ConditionalWrites class; None where leases do not rest on the kind's
    #: conditional writes (local disk takes OS locks; a custom backend implements the
    #: conditional calls itself, or cannot hold a lease)
    conditions: str | None = None
    #: the package the kind needs beyond foundry's own, and the extra that installs it
    package: str | None = None
    extra: str | None = None

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    def build(self, storage: ir.Storage, context: str) -> StorageBackend:
        """The backend for ``storage`` (of this kind), its secrets read now."""
        self.require(context)
        backend: StorageBackend = self.load().build(storage, context)
        return backend

    def root_url(self, storage: ir.Storage) -> str:
        """Where ``storage`` (of this kind) lands, for display; reads no secret."""
        url: str = self.load().root_url(storage)
        return url

    def conditional_writes(self) -> type[ConditionalWrites] | None:
        if self.conditions is None:
            return None
        cls: type[ConditionalWrites] = getattr(self.load(), self.conditions)
        return cls

    def require(self, context: str) -> None:
        """Raise, naming the extra to install, when the kind's package is missing."""
        if self.package is None:
            return
        try:
            importlib.import_module(self.package)
        except ImportError:
            raise StorageError(
                f"pipeline {context}: the {self.extra} backend needs the '{self.package}' "
                f"package: pip install 'foundry-dsl[{self.extra}]'"
            ) from None


KINDS: dict[str, Kind] = {
    entry.name: entry
    for entry in (
        Kind("local", "foundry_dsl.storage.local"),
        Kind("s3", "foundry_dsl.storage.s3",
             conditions="S3Conditions", package="s3fs", extra="s3"),
        Kind("azure", "foundry_dsl.storage.azure",
             conditions="AzureConditions", package="adlfs", extra="azure"),
        Kind("gcs", "foundry_dsl.storage.gcs",
             conditions="GcsConditions", package="gcsfs", extra="gcs"),
        Kind("custom", "foundry_dsl.storage.custom"),
    )
}


def kind(name: str) -> Kind:
    """The entry of storage kind ``name``."""
    try:
        return KINDS[name]
    except KeyError:
        raise StorageError(
            f"unknown storage kind '{name}': expected one of {', '.join(sorted(KINDS))}"
        ) from None


def conditional_writes(backend_type: str) -> type[ConditionalWrites] | None:
    """The conditional writes of a backend of kind ``backend_type``; None when it has none."""
    entry = KINDS.get(backend_type)
    return entry.conditional_writes() if entry is not None else None


def written_to(storage: ir.Storage, run: ir.RunOptions) -> ir.Storage:
    """The storage a run writes to.

    ``run.storage_enabled = false`` keeps files on local disk under
    ``run.local_output_dir``, as in the original tool.
    """
    return storage if run.storage_enabled else ir.LocalStorage(path=run.local_output_dir)


def backend_root_url(storage: ir.Storage, run: ir.RunOptions) -> str:
    """Where a pipeline lands, for display: contacts nothing and reads no secret."""
    storage = written_to(storage, run)
    return kind(storage.kind).root_url(storage)


def resolved(storage: ir.Storage, run: ir.RunOptions) -> ir.Storage:
    """The storage a run writes to, as a plan carries it: a local path made absolute
    where the plan is made, so a run elsewhere never reads the current directory."""
    import os

    storage = written_to(storage, run)
    if isinstance(storage, ir.LocalStorage):
        return storage.model_copy(update={"path": os.path.abspath(storage.path)})
    return storage


def backend_for(pipeline: ir.Pipeline) -> StorageBackend:
    """The backend a pipeline writes to, with its secrets read from the environment."""
    return open_backend(written_to(pipeline.platform.storage, pipeline.run), pipeline.name)


def open_backend(storage: ir.Storage, context: str) -> StorageBackend:
    """The backend of ``storage`` (already resolved for the run), its secrets read now."""
    try:
        return kind(storage.kind).build(storage, context)
    except FoundryError as exc:
        if isinstance(exc, (StorageError, ConfigError)):
            raise
        # an unset env(...) variable: the message names it and where it was written
        raise StorageError(
            f"pipeline {context}: cannot open {kind(storage.kind).root_url(storage)}: "
            f"{exc.message}; set it and run again"
        ) from None
