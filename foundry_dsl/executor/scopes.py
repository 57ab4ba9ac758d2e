"""Runtime layer: what one run holds, and cleaning up after runs that were killed.

A run holds a lease on its scope before it touches storage: the whole table when
the table's partitions share a cursor (two runs of different dates would start
from the same cursor and land the same rows), else its partition. Leftovers of
dead runs (staging in storage, scratch on local disk) are removed only by a run
that holds, or can take, the lease of the scope they belong to; a live run's
files are never touched.

A run's local scratch (``<local_output_dir>/_staging/<pipeline>/<run>/``) is made
only when it lands data, and removed after it with every folder it leaves empty,
``local_output_dir`` included when this process made it: a run whose platform
writes elsewhere leaves no ``./output/`` behind.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from foundry_dsl import ir

if TYPE_CHECKING:
    from foundry_dsl.storage.base import StorageBackend
    from foundry_dsl.storage.lease import Holder

log = logging.getLogger("foundry.executor")

STAGING = "_staging"
#: in each local scratch folder: the lease scope of the run that made it
SCOPE_FILE = ".scope"

Claim = Callable[[str], contextlib.AbstractContextManager[bool]]

#: held while local scratch folders are made or removed: runs of several pipelines
#: share ``_staging`` and ``local_output_dir``, and one must not remove a folder
#: another is making its scratch in
_folders = threading.Lock()
#: folders of local_output_dir paths this process made (it removes them when empty)
_made: set[Path] = set()


def staging_root(scratch_dir: str | Path, pipeline: str) -> Path:
    """Local scratch of a pipeline's runs: ``<local_output_dir>/_staging/<system.table>/``."""
    return Path(scratch_dir) / STAGING / pipeline


def table_prefix(p: ir.Pipeline) -> str:
    return f"system={p.system}/table={p.table}"


def lease_scope(p: ir.Pipeline, partition_path: str) -> str:
    """What one run holds: the table when its partitions share a cursor, else the partition.

    Two runs of different dates of an incremental table would both start from the
    same cursor and land the same rows; their state writes would race. A custom
    source may keep a cursor, so it counts as incremental.
    """
    shared = keeps_cursor(p.source) is not False
    return table_prefix(p) if shared else partition_path.rstrip("/")


def keeps_cursor(src: ir.Source) -> bool | None:
    """Whether the IR says the source is incremental; None: a custom class says so by running."""
    from foundry_dsl.sources.registry import extractor_class

    return extractor_class(src.kind).keeps_cursor(src)


def can_lease(backend: StorageBackend) -> bool:
    """Local disk (an OS lock), or a backend that implements the conditional writes."""
    from foundry_dsl.storage.base import StorageBackend

    return getattr(backend, "local_root", None) is not None or (
        type(backend).create_if_absent is not StorageBackend.create_if_absent
    )


class Unenforced:
    """The lease of a backend that cannot hold one: always held, as runs were before."""

    def check(self) -> None:
        pass

    def release(self) -> None:
        pass


def claimer(
    backend: StorageBackend, p: ir.Pipeline, own_scope: str, holder: Holder
) -> Claim:
    """Whether a run may clean up a partition: it holds its lease, or takes it."""
    from foundry_dsl.storage.lease import try_acquire

    @contextlib.contextmanager
    def claim(partition: str) -> Iterator[bool]:
        scope = lease_scope(p, partition)
        if scope == own_scope:
            yield True
            return
        if not can_lease(backend):
            yield False  # no way to tell a live run's files from a dead one's
            return
        lease = try_acquire(backend, scope, holder)
        if lease is None:
            yield False  # a live run holds it: its files are not ours to remove
            return
        try:
            yield True
        finally:
            lease.release()

    return claim


def clean_local_staging(
    root: Path, p: ir.Pipeline, own_scope: str, partition_path: str, claim: Claim
) -> None:
    """Remove local scratch left by killed runs of this pipeline, never a live run's."""
    if not root.is_dir():
        return
    for child in root.iterdir():
        try:
            scope = (child / SCOPE_FILE).read_text().strip()
        except OSError:
            scope = own_scope  # written by an older foundry: one run per pipeline then
        scope_partition = scope if scope != table_prefix(p) else partition_path
        with claim(scope_partition.rstrip("/")) as ours:
            if ours:
                shutil.rmtree(child, ignore_errors=True)
    with _folders:
        _remove_empty([root, root.parent])


def make_staging(staging: Path, scratch_dir: Path, scope: str) -> None:
    """Make a run's local scratch, with its lease scope in it (for whoever cleans up
    after a killed run); folders of ``scratch_dir`` made here are remembered."""
    with _folders:
        for folder in [scratch_dir, *scratch_dir.parents]:
            if folder.exists():
                break
            _made.add(folder)
        staging.mkdir(parents=True, exist_ok=True)
        (staging / SCOPE_FILE).write_text(scope)


def remove_staging(staging: Path, scratch_dir: Path) -> None:
    """Remove a run's local scratch, then each folder above it left empty:
    ``_staging/<pipeline>``, ``_staging``, and the folders of ``scratch_dir`` that
    this process made (a folder the user made stays, empty or not)."""
    with _folders:
        shutil.rmtree(staging, ignore_errors=True)
        if _remove_empty([staging.parent, staging.parent.parent]):
            made = [scratch_dir, *(f for f in scratch_dir.parents if f in _made)]
            for folder in made:
                if folder not in _made or not _remove_empty([folder]):
                    break
                _made.discard(folder)


def _remove_empty(folders: list[Path]) -> bool:
    """Remove each folder in turn while they are empty; whether all were removed."""
    for folder in folders:
        try:
            folder.rmdir()
        except FileNotFoundError:
            continue
        except OSError:
            return False
    return True
