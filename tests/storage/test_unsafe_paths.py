"""Nothing is written outside the storage root.

- A bucket, container or prefix that could climb out of its bucket (``b/../other``,
  ``..``, ``a//b``, a backslash) is refused in the IR, where it was written, and again
  when a backend is opened (a storage block built without validation).
- On local disk no symbolic link is followed out of the root: a partition folder, a
  folder above it or the staging area that is a link stops the commit and recovery
  with a CommitError that names the link, and nothing is moved or written.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from foundry_dsl import ir
from foundry_dsl.errors import CommitError, StorageError
from foundry_dsl.storage.commit import PartitionCommitter
from foundry_dsl.storage.layout import check_path, committed_metadata
from foundry_dsl.storage.local import local_backend
from foundry_dsl.storage.recover import recover, staged_partitions
from foundry_dsl.storage.registry import open_backend

PARTITION = "system=shop/table=orders/dt=2025-01-12"
LINKED = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                            reason="symbolic links need privileges on Windows")

# --- bucket, container and prefix: compile time --------------------------------------------

STORES = [
    (ir.S3Storage, "bucket"),
    (ir.AzureStorage, "container"),
    (ir.GcsStorage, "bucket"),
]
BAD_NAMES = [
    ("b/../other", "contains a path separator"),
    ("b\\..\\other", "contains a path separator"),
    ("..", "is '..'"),
    (".", "is '.'"),
    ("", "is empty"),
]
BAD_PREFIXES = [
    ("../other", "has a '..' segment"),
    ("bronze/../../other", "has a '..' segment"),
    ("./bronze", "has a '.' segment"),
    ("bronze//raw", "has an empty segment ('//')"),
    ("bronze\\raw", "contains '\\'"),
]


def _validation_message(model: type[ir.Node], **fields: str) -> str:
    with pytest.raises(ValidationError) as info:
        model(**fields)
    (error,) = info.value.errors()
    return str(error["msg"]).removeprefix("Value error, ")


@pytest.mark.parametrize(("model", "field"), STORES, ids=["s3", "azure", "gcs"])
@pytest.mark.parametrize(("value", "problem"), BAD_NAMES, ids=[v for v, _ in BAD_NAMES])
def test_a_bucket_or_container_that_is_not_one_name_is_refused_in_the_ir(
    model: type[ir.Node], field: str, value: str, problem: str
) -> None:
    assert _validation_message(model, **{field: value}) == (
        f"{field} {value!r} {problem}: a {field} is a single name; "
        "the folders inside it go in prefix"
    )


@pytest.mark.parametrize(("model", "field"), STORES, ids=["s3", "azure", "gcs"])
@pytest.mark.parametrize(("value", "problem"), BAD_PREFIXES, ids=[v for v, _ in BAD_PREFIXES])
def test_a_prefix_that_could_leave_its_bucket_is_refused_in_the_ir(
    model: type[ir.Node], field: str, value: str, problem: str
) -> None:
    assert _validation_message(model, **{field: "lake", "prefix": value}) == (
        f"prefix {value!r} {problem}: write folder names joined by '/', "
        "without '.', '..', '//' or '\\'"
    )


@pytest.mark.parametrize(("model", "field"), STORES, ids=["s3", "azure", "gcs"])
@pytest.mark.parametrize("prefix", ["", "bronze", "bronze/raw", "/bronze/raw/", "a..b/c.d"])
def test_folder_names_under_a_bucket_are_accepted(
    model: type[ir.Node], field: str, prefix: str
) -> None:
    storage = model(**{field: "analytics-bronze", "prefix": prefix})
    assert ir.canonical(storage)["prefix"] == prefix


# --- bucket, container and prefix: run time ------------------------------------------------

# built without validation, as a storage block read some other way would be
UNCHECKED = [
    (ir.S3Storage.model_construct(bucket="b/../other", prefix=""), "s3", "bucket"),
    (ir.AzureStorage.model_construct(container="c/../other", prefix=""), "azure", "container"),
    (ir.GcsStorage.model_construct(bucket="b/../other", prefix=""), "gcs", "bucket"),
]


@pytest.mark.parametrize(("storage", "kind", "word"), UNCHECKED, ids=["s3", "azure", "gcs"])
def test_opening_a_backend_on_a_bucket_that_is_not_one_name_is_refused(
    storage: ir.Storage, kind: str, word: str
) -> None:
    bucket = getattr(storage, word)
    with pytest.raises(StorageError) as info:
        open_backend(storage, "shop.orders")
    assert info.value.message == (
        f"{kind} {word} {bucket!r} is not a single name: refusing to write outside it; "
        f"give the {word} alone and the folders inside it as prefix"
    )


@pytest.mark.parametrize(("storage", "kind", "word"), UNCHECKED, ids=["s3", "azure", "gcs"])
@pytest.mark.parametrize("prefix", ["../other", "a/./b", "a//b", "a\\..\\b"])
def test_opening_a_backend_on_a_prefix_that_could_leave_its_bucket_is_refused(
    storage: ir.Storage, kind: str, word: str, prefix: str
) -> None:
    unchecked = type(storage).model_construct(**{word: "lake", "prefix": prefix})
    with pytest.raises(StorageError) as info:
        open_backend(unchecked, "shop.orders")
    assert info.value.message == (
        f"{kind} prefix {prefix!r} is unsafe: refusing to write outside {word} 'lake'; "
        "write folder names joined by '/', without '.', '..', '//' or '\\'"
    )


@pytest.mark.parametrize("path", ["a=1\\..\\..", "a=1/./b=2", "a=1//b=2", "../a=1", "a=1/.."])
def test_a_partition_path_that_could_leave_the_root_is_refused(path: str) -> None:
    with pytest.raises(CommitError, match=r"^invalid partition path "):
        check_path(path)


# --- local disk: no symbolic link is followed out of the root ------------------------------


def _tree(folder: Path) -> dict[str, str]:
    """Every entry below ``folder``: files with their content, links with their target."""
    out: dict[str, str] = {}
    for dirpath, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(dirpath) / name
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = path.read_text()
    return out


def _outside(tmp_path: Path) -> Path:
    """A folder beside the root holding someone's files, as a link target."""
    target = tmp_path / "elsewhere" / "target"
    (target / "hour=01").mkdir(parents=True)
    (target / "hour=01" / "keep.txt").write_text("not foundry's")
    (target / "part-0001.parquet").write_text("not foundry's either")
    return target


def _data(tmp_path: Path) -> str:
    path = tmp_path / "work" / "part-0001.parquet"
    path.parent.mkdir(exist_ok=True)
    path.write_text("new rows")
    return str(path)


def _link(link: Path, target: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target, target_is_directory=True)


@LINKED
def test_a_commit_onto_a_partition_folder_that_is_a_link_moves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    committer = PartitionCommitter(local_backend(str(root)), PARTITION, "run-1")
    committer.upload(_data(tmp_path))
    target = _outside(tmp_path)
    before = _tree(tmp_path / "elsewhere")
    link = root / PARTITION
    _link(link, target)  # appears between the upload and the commit
    with pytest.raises(CommitError) as info:
        committer.commit({"run": "run-1"})
    assert info.value.message == (
        f"partition {PARTITION}: commit failed, the previous commit is intact: {link} is a "
        f"symbolic link (to {target}); foundry never follows a link out of the storage root "
        f"{root}, so nothing was moved: remove the link (what it points to is not touched) "
        "and run again"
    )
    assert _tree(tmp_path / "elsewhere") == before
    assert link.is_symlink()


@LINKED
def test_a_folder_above_the_partition_that_is_a_link_stops_the_commit(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    committer = PartitionCommitter(local_backend(str(root)), PARTITION, "run-1")
    committer.upload(_data(tmp_path))
    table = tmp_path / "elsewhere" / "table"
    table.mkdir(parents=True)
    _link(root / "system=shop" / "table=orders", table)
    with pytest.raises(CommitError, match=re.escape(
        f"{root / 'system=shop' / 'table=orders'} is a symbolic link (to {table}), "
        f"on the way to the partition folder {root / PARTITION};"
    )):
        committer.commit({"run": "run-1"})
    assert _tree(tmp_path / "elsewhere") == {"table": "dir"}


@LINKED
def test_a_link_that_stays_inside_the_root_is_refused_too(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    committer = PartitionCommitter(local_backend(str(root)), PARTITION, "run-1")
    committer.upload(_data(tmp_path))
    other = root / "system=shop" / "table=other" / "dt=2025-01-12"
    other.mkdir(parents=True)
    _link(root / PARTITION, other)
    with pytest.raises(CommitError, match=r"is a symbolic link"):
        committer.commit({"run": "run-1"})
    assert list(other.iterdir()) == []


@LINKED
def test_a_staging_area_that_is_a_link_stops_the_upload_before_anything_is_written(
    tmp_path: Path,
) -> None:
    root = tmp_path / "lake"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _link(root / "_foundry" / "staging", outside)
    committer = PartitionCommitter(local_backend(str(root)), PARTITION, "run-1")
    with pytest.raises(CommitError, match="^" + re.escape(
        f"{root / '_foundry' / 'staging'} is a symbolic link (to {outside}), "
        "on the way to the staging folder "
    )):
        committer.upload(_data(tmp_path))
    assert list(outside.iterdir()) == []


@LINKED
def test_a_failed_upload_leaves_the_name_free(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    link = root / "_foundry" / "staging"
    _link(link, outside)
    committer = PartitionCommitter(local_backend(str(root)), PARTITION, "run-1")
    with pytest.raises(CommitError):
        committer.upload(_data(tmp_path))
    link.unlink()  # the user removed the link, as told
    committer.upload(_data(tmp_path))
    committer.commit({"run": "run-1"})
    meta = committed_metadata(local_backend(str(root)), PARTITION)
    assert meta is not None and [f["name"] for f in meta["files"]] == [
        f"part-0001-{committer.tag}.parquet"
    ]


@LINKED
def test_a_root_that_is_itself_a_link_is_where_the_user_said_to_write(tmp_path: Path) -> None:
    real = tmp_path / "disk" / "lake"
    real.mkdir(parents=True)
    root = tmp_path / "lake"
    _link(root, real)
    committer = PartitionCommitter(local_backend(str(root)), PARTITION, "run-1")
    committer.upload(_data(tmp_path))
    committer.commit({"run": "run-1"})
    assert (real / PARTITION / "_metadata.json").is_file()


@LINKED
def test_recover_moves_nothing_through_a_partition_folder_that_is_a_link(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    target = _outside(tmp_path)
    before = _tree(tmp_path / "elsewhere")
    link = root / PARTITION
    _link(link, target)
    area = root / "_foundry" / "staging" / PARTITION
    (area / "old-0badf00d").mkdir(parents=True)  # what a killed fallback leaves
    with pytest.raises(CommitError, match="^" + re.escape(f"{link} is a symbolic link (to {target});")):
        recover(local_backend(str(root)), PARTITION)
    assert _tree(tmp_path / "elsewhere") == before
    assert (area / "old-0badf00d").is_dir()


@LINKED
def test_recover_refuses_a_leftover_staging_folder_that_is_a_link(tmp_path: Path) -> None:
    # what foundry before this fix left behind: the link swapped into the staging area
    root = tmp_path / "lake"
    target = _outside(tmp_path)
    before = _tree(tmp_path / "elsewhere")
    leftover = root / "_foundry" / "staging" / PARTITION / "attempt-0badf00d"
    _link(leftover, target)
    with pytest.raises(CommitError, match="^" + re.escape(
        f"{leftover} is a symbolic link (to {target}); "
    ) + ".* remove the link"):
        recover(local_backend(str(root)), PARTITION)
    assert _tree(tmp_path / "elsewhere") == before
    assert leftover.is_symlink()


@LINKED
def test_finding_staged_partitions_never_walks_through_a_link(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    outside = tmp_path / "elsewhere"
    (outside / "dt=2025-01-12" / "attempt-0badf00d").mkdir(parents=True)
    link = root / "_foundry" / "staging" / "system=shop" / "table=orders"
    _link(link, outside)
    with pytest.raises(CommitError, match="^" + re.escape(f"{link} is a symbolic link (to {outside})")):
        staged_partitions(local_backend(str(root)), "system=shop/table=orders")
