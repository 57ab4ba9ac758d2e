"""Storage layer: recovery, cleaning up after runs that were killed mid-commit.

A run that dies at any moment leaves the previous commit readable (``commit.py``)
and leftovers beside it: an attempt's staged files, copies no commit lists, or
on local disk a previous commit swapped out by the fallback's first rename.
:func:`recover` removes them for one partition, putting a swapped-out commit
back first; :func:`recover_table` finds the staging of every partition of a
table (any date), so the next run of the pipeline cleans up after any killed
run. Both run only under the partition's lease: recovery must never delete a
live run's files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable

from foundry_dsl.storage.base import StorageBackend
from foundry_dsl.storage.commit import LocalFolders
from foundry_dsl.storage.layout import (
    ATTEMPT,
    METADATA_FILE,
    OLD,
    STAGING,
    TAGGED,
    check_path,
    committed_metadata,
    direct_files,
    listed_names,
    local_root,
    refuse_links,
    staging_prefix,
)


def recover(backend: StorageBackend, partition_path: str) -> None:
    """Clean up after killed runs of one partition: staging, and files no commit lists.

    Call it only while holding the partition's lease (never while another run writes it).
    """
    partition_path = check_path(partition_path)
    root = local_root(backend)
    if root is not None:
        _recover_local(LocalFolders(root, partition_path))
        return
    meta = committed_metadata(backend, partition_path)
    listed = listed_names(meta)
    for name in direct_files(backend, partition_path):
        if name == METADATA_FILE or name.startswith(("_", ".")):
            continue
        # when foundry's own metadata lists the files, anything else is left over;
        # otherwise only our tagged names are known to be ours
        if (listed is not None and name not in listed) or (
            listed is None and TAGGED.match(name)
        ):
            backend.delete_file(f"{partition_path}/{name}")
    for path in backend.list_files(staging_prefix(partition_path)):
        rest = path[len(staging_prefix(partition_path)) + 1 :]
        if rest.startswith(ATTEMPT) and rest.count("/") == 1:
            backend.delete_file(path)


def staged_partitions(backend: StorageBackend, table_prefix: str) -> list[str]:
    """Partitions below ``table_prefix`` that a killed run left staging for, sorted."""
    base = f"{STAGING}/{check_path(table_prefix)}"
    found: set[str] = set()
    root = local_root(backend)
    if root is not None:
        top = os.path.join(root, *base.split("/"))
        refuse_links(root, top, "staging area")
        for folder, dirs, _files in os.walk(top):
            if any(d.startswith((ATTEMPT, OLD)) for d in dirs):
                found.add(os.path.relpath(folder, os.path.join(root, *STAGING.split("/")))
                          .replace(os.sep, "/"))
            dirs[:] = [d for d in dirs if not d.startswith((ATTEMPT, OLD))]
    else:
        for path in backend.list_files(base):
            segs = path[len(STAGING) + 1 :].split("/")
            for i, seg in enumerate(segs[:-1]):
                if seg.startswith(ATTEMPT):
                    found.add("/".join(segs[:i]))
                    break
    return sorted(found)


def recover_table(
    backend: StorageBackend,
    table_prefix: str,
    claim: Callable[[str], contextlib.AbstractContextManager[bool]],
) -> list[str]:
    """Recover every partition of a table that a killed run left staging for, any date.

    ``claim(partition)`` enters a context that says whether this run may touch that
    partition (it holds or took its lease); partitions a live run holds are skipped,
    so recovery never deletes a live run's files. Returns the partitions recovered.
    """
    done = []
    for partition in staged_partitions(backend, table_prefix):
        with claim(partition) as ours:
            if ours:
                recover(backend, partition)
                done.append(partition)
    return done


# --- local disk -------------------------------------------------------------------------


def _recover_local(folders: LocalFolders) -> None:
    """Put back a previous commit the fallback swapped out, then drop every leftover.

    Nothing is moved or removed when the partition folder, a folder above it, the
    staging area or a leftover is a symbolic link: CommitError names it.
    """
    folders.check()
    olds = _olds(folders)
    for path in [*olds, *_attempts(folders)]:
        refuse_links(folders.root, path, "leftover staging folder")
    if not os.path.isdir(folders.final) and olds:
        # died between the fallback's two renames: the old partition goes back; the
        # newest if a failed clean-up left several (their tags are random, so by age)
        newest = max(olds, key=lambda path: os.stat(path).st_mtime_ns)
        os.makedirs(folders.parent, exist_ok=True)
        os.rename(newest, folders.final)
        olds.remove(newest)
    for path in [*olds, *_attempts(folders)]:
        shutil.rmtree(path, ignore_errors=True)
    folders.tidy()


def _olds(folders: LocalFolders) -> list[str]:
    """Previous commits swapped out of the partition, here and where foundry < 0.2 left them."""
    found = []
    if os.path.isdir(folders.area):
        found += [os.path.join(folders.area, n) for n in os.listdir(folders.area) if n.startswith(OLD)]
    if os.path.isdir(folders.parent):
        found += [os.path.join(folders.parent, n) for n in os.listdir(folders.parent)
                  if n.startswith(folders.legacy[1])]
    return found


def _attempts(folders: LocalFolders) -> list[str]:
    """Attempts' staging folders, here and where foundry < 0.2 left them."""
    found = []
    if os.path.isdir(folders.area):
        found += [os.path.join(folders.area, n) for n in os.listdir(folders.area)
                  if n.startswith(ATTEMPT)]
    if os.path.isdir(folders.parent):
        found += [os.path.join(folders.parent, n) for n in os.listdir(folders.parent)
                  if n.startswith(folders.legacy[0])]
    return found
