"""Recovery and the storage layout, rule by rule (scripts/mutate commit): what recovery
deletes and what it must keep, which partitions a killed run left staging for, and the
exact refusals of unsafe paths and store roots."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from foundry_dsl.errors import CommitError, StorageError
from foundry_dsl.storage.layout import (
    TAGGED,
    check_path,
    check_store_root,
    direct_files,
    listed_names,
    staging_prefix,
    tagged_name,
)
from foundry_dsl.storage.local import local_backend
from foundry_dsl.storage.recover import recover, recover_table, staged_partitions
from tests.storage.memory_backend import MemoryBackend

TABLE = "system=shop/table=orders"
PARTITION = f"{TABLE}/dt=2025-01-12"
STAGING = f"_foundry/staging/{PARTITION}"


def store(*paths: str, meta: object = None) -> MemoryBackend:
    backend = MemoryBackend("lake", {})
    for path in paths:
        backend.files[path] = b"x"
    if meta is not None:
        backend.files[f"{PARTITION}/_metadata.json"] = json.dumps(meta).encode()
    return backend


# --- recover on an object store --------------------------------------------------------------


def test_recover_deletes_files_the_commit_does_not_list_and_keeps_the_rest() -> None:
    backend = store(
        f"{PARTITION}/part-0001-aaaaaaaa.parquet",  # listed
        f"{PARTITION}/part-0001-bbbbbbbb.parquet",  # a killed run's copy
        f"{PARTITION}/notes.txt",  # not listed: not the commit's, so removed
        f"{PARTITION}/_SUCCESS",  # hidden from readers: never ours to remove
        f"{PARTITION}/.crc",
        f"{PARTITION}/hour=01/part-0001-cccccccc.parquet",  # a nested partition
        meta={"files": [{"name": "part-0001-aaaaaaaa.parquet"}]},
    )
    recover(backend, PARTITION)
    assert sorted(backend.files) == [
        f"{PARTITION}/.crc", f"{PARTITION}/_SUCCESS", f"{PARTITION}/_metadata.json",
        f"{PARTITION}/hour=01/part-0001-cccccccc.parquet",
        f"{PARTITION}/part-0001-aaaaaaaa.parquet",
    ]


def test_without_a_list_recover_deletes_only_foundry_tagged_names() -> None:
    backend = store(
        f"{PARTITION}/part-0001-bbbbbbbb.parquet",
        f"{PARTITION}/part-0001.parquet",  # the original tool's name: not ours
        f"{PARTITION}/data-0badf00d",  # tagged, no extension
        f"{PARTITION}/x-0BADF00D.csv",  # not lower-case hex: not a tag
        meta={"note": "written by another tool"},
    )
    recover(backend, PARTITION)
    assert sorted(backend.files) == [
        f"{PARTITION}/_metadata.json", f"{PARTITION}/part-0001.parquet",
        f"{PARTITION}/x-0BADF00D.csv",
    ]


def test_recover_deletes_attempt_files_in_staging_and_nothing_deeper_or_beside() -> None:
    backend = store(
        f"{STAGING}/attempt-aaaaaaaa/part-0001-aaaaaaaa.parquet",
        f"{STAGING}/attempt-bbbbbbbb/part-0002-bbbbbbbb.parquet",
        f"{STAGING}/attempt-aaaaaaaa/deeper/file",  # not an attempt's file
        f"{STAGING}/other/file",
        f"{STAGING}/hour=01/attempt-cccccccc/part-0001-cccccccc.parquet",  # another partition
    )
    recover(backend, PARTITION)
    assert sorted(backend.files) == [
        f"{STAGING}/attempt-aaaaaaaa/deeper/file", f"{STAGING}/hour=01/attempt-cccccccc/"
        "part-0001-cccccccc.parquet", f"{STAGING}/other/file",
    ]


def test_recover_refuses_an_unsafe_partition_path() -> None:
    with pytest.raises(CommitError, match=r"invalid partition path 'a/\.\./b'"):
        recover(store(), "a/../b")


# --- which partitions a killed run left staging for -------------------------------------------


def test_staged_partitions_on_an_object_store() -> None:
    backend = store(
        f"_foundry/staging/{TABLE}/dt=2025-01-13/attempt-aaaaaaaa/part-0001-aaaaaaaa.parquet",
        f"_foundry/staging/{TABLE}/dt=2025-01-12/hour=01/attempt-bbbbbbbb/part.parquet",
        f"_foundry/staging/{TABLE}/dt=2025-01-12/attempt-cccccccc/part.parquet",
        f"_foundry/staging/{TABLE}/dt=2025-01-11/notes/file",
        "_foundry/staging/system=shop/table=other/dt=2025-01-12/attempt-d/part.parquet",
    )
    assert staged_partitions(backend, TABLE) == [
        f"{TABLE}/dt=2025-01-12", f"{TABLE}/dt=2025-01-12/hour=01", f"{TABLE}/dt=2025-01-13"]


def test_staged_partitions_on_local_disk(tmp_path: Path) -> None:
    area = tmp_path / "_foundry" / "staging" / TABLE
    (area / "dt=2025-01-12" / "attempt-aaaaaaaa").mkdir(parents=True)
    (area / "dt=2025-01-13" / "old-bbbbbbbb" / "hour=01" / "attempt-x").mkdir(parents=True)
    (area / "dt=2025-01-11" / "notes").mkdir(parents=True)
    assert staged_partitions(local_backend(str(tmp_path)), TABLE) == [
        f"{TABLE}/dt=2025-01-12", f"{TABLE}/dt=2025-01-13"]


def test_recover_table_recovers_only_the_partitions_it_may_claim() -> None:
    mine = f"_foundry/staging/{TABLE}/dt=2025-01-12/attempt-aaaaaaaa/part.parquet"
    live = f"_foundry/staging/{TABLE}/dt=2025-01-13/attempt-bbbbbbbb/part.parquet"
    backend = store(mine, live)
    claimed: list[str] = []

    @contextlib.contextmanager
    def claim(partition: str) -> Iterator[bool]:
        claimed.append(partition)
        yield partition.endswith("2025-01-12")

    assert recover_table(backend, TABLE, claim) == [f"{TABLE}/dt=2025-01-12"]
    assert claimed == [f"{TABLE}/dt=2025-01-12", f"{TABLE}/dt=2025-01-13"]
    assert sorted(backend.files) == [live]


# --- recover on local disk --------------------------------------------------------------------


def test_local_recover_keeps_a_committed_partition_and_drops_the_leftovers(tmp_path: Path) -> None:
    folder = tmp_path / PARTITION
    folder.mkdir(parents=True)
    (folder / "_metadata.json").write_text(json.dumps({"run": "current", "files": []}))
    area = tmp_path / STAGING
    for name in ("old-aaaaaaaa", "attempt-bbbbbbbb"):
        (area / name).mkdir(parents=True)
        (area / name / "part.parquet").write_text("x")
    legacy = [tmp_path / TABLE / ".dt=2025-01-12.old-cccccccc",
              tmp_path / TABLE / ".dt=2025-01-12.staging-dddddddd"]
    for path in legacy:
        path.mkdir()
    recover(local_backend(str(tmp_path)), PARTITION)
    assert json.loads((folder / "_metadata.json").read_text())["run"] == "current"
    assert sorted(p.name for p in (tmp_path / TABLE).iterdir()) == ["dt=2025-01-12"]
    assert list((tmp_path / "_foundry" / "staging").iterdir()) == []


def test_local_recover_restores_the_newest_old_partition_from_beside_it_too(
        tmp_path: Path) -> None:
    legacy = tmp_path / TABLE / ".dt=2025-01-12.old-ffffffff"
    current = tmp_path / STAGING / "old-00000000"
    for path, run, age in ((legacy, "legacy", 3_000), (current, "older", 1_000)):
        path.mkdir(parents=True)
        (path / "_metadata.json").write_text(json.dumps({"run": run, "files": []}))
        os.utime(path, ns=(age * 10**9, age * 10**9))
    recover(local_backend(str(tmp_path)), PARTITION)
    restored = json.loads((tmp_path / PARTITION / "_metadata.json").read_text())
    assert restored["run"] == "legacy"
    assert sorted(p.name for p in (tmp_path / TABLE).iterdir()) == ["dt=2025-01-12"]


def test_local_recover_with_nothing_left_behind_changes_nothing(tmp_path: Path) -> None:
    recover(local_backend(str(tmp_path)), PARTITION)
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")] == []


def test_local_recover_through_a_linked_leftover_moves_nothing(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "lake" / STAGING).mkdir(parents=True)
    (tmp_path / "lake" / STAGING / "attempt-aaaaaaaa").symlink_to(elsewhere)
    with pytest.raises(CommitError, match="is a symbolic link"):
        recover(local_backend(str(tmp_path / "lake")), PARTITION)
    assert (tmp_path / "lake" / STAGING / "attempt-aaaaaaaa").is_symlink()


# --- the layout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "/a=1", "a=1/", "a=1//b=2", "a=1/./b", "a/../b", "a\\b", ".."])
def test_unsafe_partition_paths_are_refused(path: str) -> None:
    with pytest.raises(CommitError) as info:
        check_path(path)
    assert info.value.message == (
        f"invalid partition path '{path}': want 'a=1/b=2', no '.', '..', '//' or '\\'")


def test_a_safe_partition_path_passes_unchanged() -> None:
    assert check_path("a=1/b=2") == "a=1/b=2"
    assert staging_prefix("a=1/b=2") == "_foundry/staging/a=1/b=2"


@pytest.mark.parametrize("bucket", ["", "a/b", "..", "."])
def test_a_bucket_that_is_not_one_name_is_refused(bucket: str) -> None:
    with pytest.raises(StorageError) as info:
        check_store_root("s3", "bucket", bucket, "")
    assert info.value.message == (
        f"s3 bucket {bucket!r} is not a single name: refusing to write outside it; give the "
        "bucket alone and the folders inside it as prefix")
    assert info.value.transient is False


@pytest.mark.parametrize("prefix", ["a/../b", "a//b", "X//b", "./a", "a\\b", "\\"])
def test_an_unsafe_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(StorageError) as info:
        check_store_root("azure", "container", "c", prefix)
    assert info.value.message == (
        f"azure prefix {prefix!r} is unsafe: refusing to write outside container 'c'; write "
        "folder names joined by '/', without '.', '..', '//' or '\\'")
    assert info.value.transient is False


@pytest.mark.parametrize("prefix", ["", "/", "a/b", "/a/b/"])
def test_a_safe_store_root_passes(prefix: str) -> None:
    check_store_root("gcs", "bucket", "b", prefix)


def test_tagged_names_carry_the_tag_before_every_extension() -> None:
    assert tagged_name("part-0001.parquet", "0badf00d") == "part-0001-0badf00d.parquet"
    assert tagged_name("part-0001.csv.gz", "0badf00d") == "part-0001-0badf00d.csv.gz"
    assert tagged_name("part-0001", "0badf00d") == "part-0001-0badf00d"
    assert TAGGED.match("part-0001-0badf00d.csv.gz")
    assert not TAGGED.match("part-0001-0badf00.parquet")


def test_direct_files_leave_out_nested_partitions() -> None:
    backend = store(f"{PARTITION}/a", f"{PARTITION}/hour=01/b", f"{PARTITION}x/c")
    assert direct_files(backend, PARTITION) == ["a"]


@pytest.mark.parametrize(
    ("meta", "names"),
    [(None, None), ({}, None), ({"files": "a"}, None), ({"files": []}, set()),
     ({"files": ["a", {"name": "b"}, {"name": 3}]}, {"a", "b", "3"})],
)
def test_listed_names_read_both_shapes_of_a_file_list(meta: object, names: set[str] | None) -> None:
    assert listed_names(meta) == names  # type: ignore[arg-type]


def test_recover_that_cannot_remove_a_leftover_still_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from foundry_dsl.storage import recover as recover_module

    def rmtree(path: str, ignore_errors: bool = False, **kw: object) -> None:
        if not ignore_errors:
            raise OSError(13, "Permission denied")

    (tmp_path / STAGING / "attempt-aaaaaaaa").mkdir(parents=True)
    monkeypatch.setattr(recover_module.shutil, "rmtree", rmtree)
    recover(local_backend(str(tmp_path)), PARTITION)  # the next run tries again


def test_staged_partitions_refuse_a_staging_area_reached_through_a_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "staging").mkdir(parents=True)
    (tmp_path / "lake").mkdir()
    (tmp_path / "lake" / "_foundry").symlink_to(elsewhere)
    with pytest.raises(CommitError) as info:
        staged_partitions(local_backend(str(tmp_path / "lake")), TABLE)
    assert info.value.message.startswith(
        f"{tmp_path / 'lake' / '_foundry'} is a symbolic link (to {elsewhere}), on the way to "
        f"the staging area {tmp_path / 'lake' / '_foundry' / 'staging' / 'system=shop'}")


def test_a_path_outside_the_root_is_refused_before_anything_moves(tmp_path: Path) -> None:
    from foundry_dsl.storage.layout import refuse_links

    root = tmp_path / "lake"
    outside = str(root / ".." / "elsewhere")
    with pytest.raises(CommitError) as info:
        refuse_links(str(root), outside, "partition folder")
    assert info.value.message == (
        f"the partition folder {outside} is outside the storage root {root}, so nothing was moved")


def test_only_a_text_local_root_makes_a_backend_local() -> None:
    from foundry_dsl.storage.layout import local_root

    backend = store()
    assert local_root(backend) is None
    backend.local_root = Path("/tmp/x")  # type: ignore[attr-defined]
    assert local_root(backend) is None
    backend.local_root = "/tmp/x"  # type: ignore[attr-defined]
    assert local_root(backend) == "/tmp/x"
