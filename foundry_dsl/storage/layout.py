"""Storage layer: where the commit protocol keeps things, and what is committed.

A committed partition is a folder (a prefix, on object stores) holding its data
files and ``_metadata.json``, the commit marker, which lists exactly those
files. Uploads wait in the staging area at the storage root, never inside a
``system=.../table=...`` folder, so no reader's glob sees them::

    _foundry/staging/<partition path>/attempt-<tag>/part-0001.parquet

(``tag`` = 8 random hex digits per attempt; a leading ``_`` keeps Hive readers
out of ``_foundry/``.) The committer (``commit.py``) and recovery
(``recover.py``) both read this layout, so its names and paths live here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from foundry_dsl.errors import CommitError
from foundry_dsl.storage.base import StorageBackend

METADATA_FILE = "_metadata.json"
#: foundry's private area at the storage root: leases and staging live here
PRIVATE = "_foundry"
STAGING = f"{PRIVATE}/staging"
#: folders in a partition's staging area: an attempt's uploads, and (local disk) the
#: previous commit while it is swapped out
ATTEMPT = "attempt-"
OLD = "old-"
#: data files named by an object-store commit: ``<stem>-<8 hex><.ext>``
TAGGED = re.compile(r"^[^/.]+-[0-9a-f]{8}(\..+)?$")


def committed_metadata(backend: StorageBackend, partition_path: str) -> dict[str, Any] | None:
    """The committed partition's ``_metadata.json``, or None when nothing is committed."""
    raw = backend.read_bytes(f"{check_path(partition_path)}/{METADATA_FILE}")
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise CommitError(
            f"partition {partition_path}: {METADATA_FILE} is not valid JSON ({exc}); "
            "it was not written by foundry: inspect it, then delete it to land the partition again"
        ) from None
    if not isinstance(value, dict):
        raise CommitError(f"partition {partition_path}: {METADATA_FILE} is not a JSON object")
    return value


def staging_prefix(partition_path: str) -> str:
    """Where attempts at ``partition_path`` stage their files, relative to the root."""
    return f"{STAGING}/{check_path(partition_path)}"


def check_path(path: str) -> str:
    """``path`` when it is a safe relative partition path; CommitError otherwise."""
    parts = path.split("/")
    if not path or path != path.strip("/") or any(p in ("", ".", "..") for p in parts):
        raise CommitError(f"invalid partition path '{path}': want 'a=1/b=2', no '..' or '//'")
    return path


def tagged_name(name: str, tag: str) -> str:
    """``part-0001.parquet`` as one attempt names it: ``part-0001-<tag>.parquet``."""
    stem, dot, ext = name.partition(".")
    return f"{stem}-{tag}{dot}{ext}"


def local_root(backend: StorageBackend) -> str | None:
    """The backend's root on local disk, or None: local disk swaps folders, stores copy."""
    root = getattr(backend, "local_root", None)
    return root if isinstance(root, str) else None


def direct_files(backend: StorageBackend, partition_path: str) -> list[str]:
    """Files directly in the partition; nested partitions (``hour=14/``) are not ours."""
    cut = len(partition_path) + 1
    return [p[cut:] for p in backend.list_files(partition_path) if "/" not in p[cut:]]


def listed_names(meta: dict[str, Any] | None) -> set[str] | None:
    """The file names a commit's metadata lists; None when it has no list (not foundry's)."""
    files = meta.get("files") if meta else None
    if not isinstance(files, list):
        return None
    return {str(f["name"]) if isinstance(f, dict) else str(f) for f in files}
