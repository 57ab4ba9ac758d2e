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
import os
import re
from typing import Any

from foundry_dsl.errors import CommitError, StorageError
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
    if not path or path != path.strip("/") or _unsafe_segments(path):
        raise CommitError(
            f"invalid partition path '{path}': want 'a=1/b=2', no '.', '..', '//' or '\\'"
        )
    return path


def _unsafe_segments(path: str) -> bool:
    """Whether ``/``-separated ``path`` could name something outside where it is joined:
    a ``.``, ``..`` or empty segment, or a ``\\`` (a separator on Windows)."""
    return "\\" in path or any(p in ("", ".", "..") for p in path.split("/"))


def check_store_root(kind: str, bucket_word: str, bucket: str, prefix: str) -> None:
    """StorageError unless ``bucket`` is one name and ``prefix`` folder names under it.

    The IR refuses such values where they are written; this is the second guard, for a
    storage block built some other way (a plan file, a library caller), so no backend
    is ever rooted outside its bucket.
    """
    inner = prefix.strip("/")
    if not bucket or "/" in bucket or _unsafe_segments(bucket):
        raise StorageError(
            f"{kind} {bucket_word} {bucket!r} is not a single name: refusing to write "
            f"outside it; give the {bucket_word} alone and the folders inside it as prefix",
            transient=False,
        )
    if (inner and _unsafe_segments(inner)) or "\\" in prefix:
        raise StorageError(
            f"{kind} prefix {prefix!r} is unsafe: refusing to write outside "
            f"{bucket_word} {bucket!r}; write folder names joined by '/', "
            "without '.', '..', '//' or '\\'",
            transient=False,
        )


def refuse_links(root: str, path: str, what: str) -> None:
    """CommitError when ``path``, or a folder between ``root`` and it, is a symbolic link
    (or a Windows junction), or when it resolves outside ``root``.

    Local disk only: foundry moves and deletes whole folders there, and must never
    follow a link out of the storage root (moving someone's files in, or deleting
    them). ``root`` itself may be a link: it is where the user said to write. Parts of
    ``path`` that do not exist yet are fine: foundry creates them, as real folders.
    """
    try:
        rel = os.path.relpath(path, root)
    except ValueError:  # another drive
        rel = os.path.abspath(path)
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        raise CommitError(
            f"the {what} {path} is outside the storage root {root}, so nothing was moved"
        )
    current = root
    for part in ([] if rel == os.curdir else rel.split(os.sep)):
        current = os.path.join(current, part)
        if os.path.islink(current) or _is_junction(current):
            try:
                target = f" (to {os.readlink(current)})"
            except OSError:
                target = ""
            on_the_way = "" if current == path else f", on the way to the {what} {path}"
            raise CommitError(
                f"{current} is a symbolic link{target}{on_the_way}; foundry never follows a "
                f"link out of the storage root {root}, so nothing was moved: remove the link "
                "(what it points to is not touched) and run again"
            )
        if not os.path.lexists(current):
            break  # foundry creates the rest, as real folders
    real_root = os.path.normcase(os.path.realpath(root))
    real = os.path.normcase(os.path.realpath(path))
    try:
        inside = os.path.commonpath([real_root, real]) == real_root
    except ValueError:  # another drive
        inside = False
    if not inside:
        raise CommitError(
            f"the {what} {path} resolves to {os.path.realpath(path)}, outside the storage "
            f"root {root}, so nothing was moved: remove the link on its way and run again"
        )


def _is_junction(path: str) -> bool:
    check = getattr(os.path, "isjunction", None)  # Python 3.12+
    return bool(check(path)) if check is not None else False


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
