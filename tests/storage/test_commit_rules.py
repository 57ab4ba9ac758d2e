"""The commit protocol's rules, checked by the recorded sequence of storage operations
and by exact messages, without emulators: an in-memory object store (the path S3, Azure,
GCS and custom backends take) and local disk. Failure paths: the marker write failing,
removing old files failing after the commit, a corrupt ``_metadata.json``, a staged
file gone, the lease lost (scripts/mutate commit)."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from foundry_dsl.errors import CommitError, StorageError
from foundry_dsl.storage import commit as commit_module
from foundry_dsl.storage.commit import PartitionCommitter
from foundry_dsl.storage.layout import METADATA_FILE, committed_metadata
from foundry_dsl.storage.local import local_backend
from tests.storage.memory_backend import MemoryBackend
from tests.storage.recording_backend import RecordingBackend

PARTITION = "system=shop/table=orders/dt=2025-01-12"
STAGING = f"_foundry/staging/{PARTITION}"


class FailingBackend(RecordingBackend):
    """Records like RecordingBackend; ``fail[op]`` names paths (by suffix) whose ``op`` raises."""

    def __init__(self, inner: Any, error: Exception | None = None) -> None:
        super().__init__(inner)
        self.fail: dict[str, str] = {}
        self.error = error or StorageError("the store said no", transient=True)

    def _check(self, op: str, path: str) -> None:
        if op in self.fail and path.endswith(self.fail[op]):
            raise self.error

    def write_bytes(self, path: str, data: bytes) -> None:
        self._check("write", path)
        super().write_bytes(path, data)

    def delete_file(self, remote_path: str) -> None:
        self._check("delete", remote_path)
        super().delete_file(remote_path)

    def copy_file(self, source: str, target: str) -> None:
        self._check("copy", target)
        super().copy_file(source, target)


def store() -> FailingBackend:
    return FailingBackend(MemoryBackend("lake", {}))


def files(tmp_path: Path, run: str, names: list[str]) -> list[str]:
    folder = tmp_path / run
    folder.mkdir()
    for name in names:
        (folder / name).write_bytes(f"{run}:{name}".encode())
    return [str(folder / n) for n in names]


def land(backend: Any, tmp_path: Path, run: str, names: list[str], **kw: Any) -> PartitionCommitter:
    committer = PartitionCommitter(backend, PARTITION, run, **kw)
    for path in files(tmp_path, run, names):
        committer.upload(path)
    committer.commit({"run": run})
    return committer


def short(ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Operations with paths relative to the partition (``staged/...`` for staging)."""
    out = []
    for op, path in ops:
        if path.startswith(STAGING + "/"):
            path = "staged/" + path.split("/")[-1]
        elif path.startswith(PARTITION):
            path = path[len(PARTITION) + 1:] or "."
        out.append((op, re.sub(r"-[0-9a-f]{8}\.", "-T.", path)))
    return out


def meta(backend: Any) -> dict[str, Any]:
    found = committed_metadata(backend, PARTITION)
    assert found is not None
    return found


# --- object stores: the order of operations --------------------------------------------


def test_an_object_store_commit_stages_copies_checks_guards_marks_then_deletes(
    tmp_path: Path,
) -> None:
    backend = store()
    first = land(backend, tmp_path, "run-1", ["part-0001.parquet", "part-0002.parquet"])
    backend.ops.clear()
    committer = PartitionCommitter(backend, PARTITION, "run-2",
                                   guard=lambda: backend.ops.append(("guard", "")))
    for path in files(tmp_path, "run-2", ["part-0002.parquet", "part-0001.parquet"]):
        committer.upload(path)
    committer.commit({"run": "run-2"})
    assert short(backend.ops) == [
        ("upload", "staged/part-0002-T.parquet"),
        ("upload", "staged/part-0001-T.parquet"),
        ("copy", "part-0001-T.parquet"),
        ("copy", "part-0002-T.parquet"),
        ("list", "."),
        ("guard", ""),
        ("write", METADATA_FILE),
        # the previous commit's files, then what is left in staging, found by listing it
        ("delete", "part-0001-T.parquet"),
        ("delete", "part-0002-T.parquet"),
        ("list", f"staged/attempt-{committer.tag}"),
        ("delete", "staged/part-0001-T.parquet"),
        ("delete", "staged/part-0002-T.parquet"),
    ]
    old = [p for op, p in backend.ops if op == "delete" and p.startswith(PARTITION)]
    assert old == [f"{PARTITION}/part-000{i}-{first.tag}.parquet" for i in (1, 2)]
    assert sorted(backend.inner.files) == sorted(
        [f"{PARTITION}/{METADATA_FILE}", *(f"{PARTITION}/{f['name']}" for f in meta(backend)["files"])]
    )


def test_the_first_commit_deletes_nothing_but_its_staging(tmp_path: Path) -> None:
    backend = store()
    committer = land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    deletes = [p for op, p in backend.ops if op == "delete"]
    assert deletes == [f"{STAGING}/attempt-{committer.tag}/part-0001-{committer.tag}.parquet"]


def test_files_other_runs_keep_in_the_partition_are_left_alone(tmp_path: Path) -> None:
    backend = store()
    backend.inner.files[f"{PARTITION}/_SUCCESS"] = b""
    backend.inner.files[f"{PARTITION}/.hidden"] = b""
    backend.inner.files[f"{PARTITION}/hour=01/part-0001.parquet"] = b"nested"
    land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    assert f"{PARTITION}/_SUCCESS" in backend.inner.files
    assert f"{PARTITION}/.hidden" in backend.inner.files
    assert f"{PARTITION}/hour=01/part-0001.parquet" in backend.inner.files


def test_a_dead_attempts_files_in_the_same_staging_are_removed_at_the_commit(
    tmp_path: Path,
) -> None:
    backend = store()
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    stray = f"{committer.staging}/unit-0009-{committer.tag}.parquet"
    backend.inner.files[stray] = b"dead attempt"
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    committer.commit({"run": "run-1"})
    assert stray not in backend.inner.files
    assert [f["name"] for f in meta(backend)["files"]] == [f"part-0001-{committer.tag}.parquet"]


# --- object stores: failures ------------------------------------------------------------


def test_a_failing_marker_write_keeps_the_previous_commit_and_says_so(tmp_path: Path) -> None:
    backend = store()
    land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    before = meta(backend)
    backend.fail["write"] = METADATA_FILE
    committer = PartitionCommitter(backend, PARTITION, "run-2")
    committer.upload(files(tmp_path, "run-2", ["part-0001.parquet"])[0])
    with pytest.raises(CommitError) as info:
        committer.commit({"run": "run-2"})
    assert info.value.message == (
        f"partition {PARTITION}: commit failed, the previous commit is intact: the store said no"
    )
    assert info.value.transient is True  # the store's error was transient: a retry may pass
    assert meta(backend) == before
    # nothing of the previous commit was deleted before the marker
    assert not [p for op, p in backend.ops if op == "delete" and not p.startswith("_foundry")]
    with pytest.raises(CommitError, match="cannot upload, this run is failed"):
        committer.upload(str(tmp_path / "run-2" / "part-0001.parquet"))


def test_abort_after_a_failed_marker_write_removes_the_copies_and_staging(tmp_path: Path) -> None:
    backend = store()
    first = land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    backend.fail["write"] = METADATA_FILE
    committer = PartitionCommitter(backend, PARTITION, "run-2")
    committer.upload(files(tmp_path, "run-2", ["part-0001.parquet"])[0])
    with pytest.raises(CommitError):
        committer.commit({"run": "run-2"})
    committer.abort()
    assert sorted(backend.inner.files) == [
        f"{PARTITION}/{METADATA_FILE}", f"{PARTITION}/part-0001-{first.tag}.parquet"]


def test_a_marker_write_failing_with_an_os_error_is_a_commit_error(tmp_path: Path) -> None:
    backend = FailingBackend(MemoryBackend("lake", {}), error=OSError("disk quota exceeded"))
    backend.fail["write"] = METADATA_FILE
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    with pytest.raises(CommitError) as info:
        committer.commit({})
    assert info.value.message == (
        f"partition {PARTITION}: commit failed, the previous commit is intact: "
        "disk quota exceeded"
    )
    assert info.value.transient is False


def test_removing_old_files_failing_after_the_marker_still_commits_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    backend = store()
    first = land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    backend.fail["delete"] = f"part-0001-{first.tag}.parquet"
    with caplog.at_level(logging.WARNING, logger="foundry.storage"):
        second = land(backend, tmp_path, "run-2", ["part-0001.parquet"])
    assert meta(backend)["run"] == "run-2"
    assert [f["name"] for f in meta(backend)["files"]] == [f"part-0001-{second.tag}.parquet"]
    assert [r.getMessage() for r in caplog.records] == [
        f"partition {PARTITION} is committed, but removing old files failed (the store said "
        "no); the next run removes them"
    ]
    second.abort()  # a committed run's abort touches nothing
    assert meta(backend)["run"] == "run-2"


def test_a_copy_that_vanished_fails_before_the_marker(tmp_path: Path) -> None:
    class Vanishing(RecordingBackend):
        def copy_file(self, source: str, target: str) -> None:
            super().copy_file(source, target)
            self.inner.files.pop(target)  # another run removed it

    backend = Vanishing(MemoryBackend("lake", {}))
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    for path in files(tmp_path, "run-1", ["part-0001.parquet", "part-0002.parquet",
                                           "part-0003.parquet", "part-0004.parquet"]):
        committer.upload(path)
    with pytest.raises(CommitError) as info:
        committer.commit({})
    tag = committer.tag
    assert info.value.message == (
        f"partition {PARTITION}: commit failed, the previous commit is intact: partition "
        f"{PARTITION}: 4 file(s) to commit are not in the store (part-0001-{tag}.parquet, "
        f"part-0002-{tag}.parquet, part-0003-{tag}.parquet); another run may have removed them"
    )
    assert ("write", f"{PARTITION}/{METADATA_FILE}") not in backend.ops


def test_a_run_that_lost_its_lease_writes_no_marker(tmp_path: Path) -> None:
    backend = store()

    def lost() -> None:
        raise StorageError("lease lost to run b", transient=False)

    committer = PartitionCommitter(backend, PARTITION, "run-1", guard=lost)
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    with pytest.raises(CommitError, match=r"commit is intact: lease lost to run b$"):
        committer.commit({})
    assert committed_metadata(backend, PARTITION) is None


# --- the metadata ------------------------------------------------------------------------


def test_metadata_gets_the_final_names_sizes_and_defaults(tmp_path: Path) -> None:
    backend = store()
    committer = PartitionCommitter(backend, PARTITION, "run-7")
    paths = files(tmp_path, "run-7", ["part-0002.parquet", "part-0001.parquet"])
    for path in paths:
        committer.upload(path)
    committer.commit({"files": [{"path": paths[0], "rows": 5, "size": 99}]})
    tag = committer.tag
    assert meta(backend) == {
        "files": [
            {"name": f"part-0001-{tag}.parquet", "size": len(b"run-7:part-0001.parquet")},
            {"name": f"part-0002-{tag}.parquet", "rows": 5, "size": 99},
        ],
        "num_files": 2,
        "partition_path": PARTITION + "/",
        "run_id": "run-7",
    }


def test_metadata_given_by_the_caller_is_kept(tmp_path: Path) -> None:
    backend = store()
    committer = PartitionCommitter(backend, PARTITION, "run-7")
    committer.upload(files(tmp_path, "run-7", ["part-0001.parquet"])[0])
    committer.commit({"num_files": 9, "partition_path": "p/", "run_id": "other",
                      "files": ["part-0001.parquet"]})
    found = meta(backend)
    assert (found["num_files"], found["partition_path"], found["run_id"]) == (9, "p/", "other")


def test_metadata_is_indented_sorted_json(tmp_path: Path) -> None:
    backend = store()
    committer = land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    raw = backend.inner.files[f"{PARTITION}/{METADATA_FILE}"].decode()
    assert raw == json.dumps(meta(backend), indent=2, sort_keys=True)
    assert raw.startswith('{\n  "files": [\n    {\n      "name": "part-0001-' + committer.tag)


def test_metadata_naming_a_file_never_uploaded_is_refused(tmp_path: Path) -> None:
    committer = PartitionCommitter(store(), PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    with pytest.raises(CommitError) as info:
        committer.commit({"files": [{"name": "part-0009.parquet"}]})
    assert info.value.message == (
        f"partition {PARTITION}: metadata lists 'part-0009.parquet', which was not uploaded"
    )


def test_a_corrupt_metadata_file_is_an_error_that_says_what_to_do() -> None:
    backend = store()
    backend.inner.files[f"{PARTITION}/{METADATA_FILE}"] = b"{not json"
    with pytest.raises(CommitError) as info:
        committed_metadata(backend, PARTITION)
    assert info.value.message == (
        f"partition {PARTITION}: {METADATA_FILE} is not valid JSON (Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1)); it was not written by foundry: "
        "inspect it, then delete it to land the partition again"
    )


def test_metadata_that_is_no_object_is_an_error() -> None:
    backend = store()
    backend.inner.files[f"{PARTITION}/{METADATA_FILE}"] = b"[1, 2]"
    with pytest.raises(CommitError) as info:
        committed_metadata(backend, PARTITION)
    assert info.value.message == f"partition {PARTITION}: {METADATA_FILE} is not a JSON object"


def test_a_corrupt_metadata_file_fails_the_abort_and_deletes_nothing(tmp_path: Path) -> None:
    backend = store()
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    backend.inner.files[f"{PARTITION}/{METADATA_FILE}"] = b"\xff"
    with pytest.raises(CommitError, match="is not valid JSON"):
        committer.abort()
    assert not [op for op, _ in backend.ops if op == "delete"]


# --- uploads ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["_metadata.json", "_SUCCESS", ".part-0001.parquet.crc"])
def test_reserved_names_are_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_bytes(b"x")
    with pytest.raises(CommitError) as info:
        PartitionCommitter(store(), PARTITION, "run-1").upload(str(tmp_path / name))
    assert info.value.message == (
        f"partition {PARTITION}: cannot upload '{name}': names starting with '_' or '.' are "
        "reserved (readers skip them)"
    )


def test_a_path_without_a_file_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommitError, match="cannot upload '': names starting"):
        PartitionCommitter(store(), PARTITION, "run-1").upload(str(tmp_path) + "/")


def test_two_files_of_one_name_are_refused(tmp_path: Path) -> None:
    committer = PartitionCommitter(store(), PARTITION, "run-1")
    (path,) = files(tmp_path, "run-1", ["part-0001.parquet"])
    committer.upload(path)
    with pytest.raises(CommitError) as info:
        committer.upload(path)
    assert info.value.message == f"partition {PARTITION}: two data files are named 'part-0001.parquet'"


def test_a_failed_upload_frees_its_name(tmp_path: Path) -> None:
    class FlakyUpload(RecordingBackend):
        failed = False

        def upload_file(self, local_path: str, remote_path: str) -> None:
            if not self.failed:
                self.failed = True
                raise StorageError("connection reset", transient=True)
            super().upload_file(local_path, remote_path)

    committer = PartitionCommitter(FlakyUpload(MemoryBackend("lake", {})), PARTITION, "run-1")
    (path,) = files(tmp_path, "run-1", ["part-0001.parquet"])
    with pytest.raises(StorageError):
        committer.upload(path)
    assert committer.staged() == []
    assert committer.upload(path) == f"part-0001-{committer.tag}.parquet"


def test_staged_lists_upload_name_final_name_and_size_by_upload_name(tmp_path: Path) -> None:
    committer = PartitionCommitter(store(), PARTITION, "run-1", tag="0123abcd")
    for path in files(tmp_path, "run-1", ["part-0002.csv", "part-0001.csv"]):
        committer.upload(path)
    assert committer.staged() == [
        ("part-0001.csv", "part-0001-0123abcd.csv", len(b"run-1:part-0001.csv")),
        ("part-0002.csv", "part-0002-0123abcd.csv", len(b"run-1:part-0002.csv")),
    ]


def test_staging_is_one_folder_per_attempt_under_the_private_area() -> None:
    committer = PartitionCommitter(store(), PARTITION, "run-1")
    assert re.fullmatch(r"[0-9a-f]{8}", committer.tag)
    assert committer.staging == f"{STAGING}/attempt-{committer.tag}"
    assert PartitionCommitter(store(), PARTITION, "run-1").tag != committer.tag


def test_a_commit_while_an_upload_is_running_is_refused(tmp_path: Path) -> None:
    seen: list[str] = []

    class CommitsMidUpload(RecordingBackend):
        def upload_file(self, local_path: str, remote_path: str) -> None:
            try:
                committer.commit({})
            except CommitError as exc:
                seen.append(exc.message)
            super().upload_file(local_path, remote_path)

    committer = PartitionCommitter(CommitsMidUpload(MemoryBackend("lake", {})), PARTITION, "r")
    committer.upload(files(tmp_path, "r", ["part-0001.parquet"])[0])
    assert seen == [f"partition {PARTITION}: commit while uploads are still running"]
    committer.commit({})  # the refusal left the committer open
    assert meta(committer.backend)["num_files"] == 1


@pytest.mark.parametrize("then", ["commit", "abort"])
def test_nothing_is_uploaded_after_a_commit_or_an_abort(tmp_path: Path, then: str) -> None:
    committer = PartitionCommitter(store(), PARTITION, "run-1")
    (path,) = files(tmp_path, "run-1", ["part-0001.parquet"])
    committer.upload(path)
    committer.commit({}) if then == "commit" else committer.abort()
    state = "committed" if then == "commit" else "aborted"
    with pytest.raises(CommitError) as info:
        committer.upload(path)
    assert info.value.message == f"partition {PARTITION}: cannot upload, this run is {state}"
    with pytest.raises(CommitError, match=f"cannot commit, this run is {state}$"):
        committer.commit({})


# --- units of work landed elsewhere: adopt and joined aborts ----------------------------


def test_the_driver_commits_files_a_joined_committer_staged(tmp_path: Path) -> None:
    backend = store()
    driver = PartitionCommitter(backend, PARTITION, "run-1")
    unit = PartitionCommitter(backend, PARTITION, "run-1", tag=driver.tag)
    unit.upload(files(tmp_path, "unit", ["unit-0001.parquet"])[0])
    driver.upload(files(tmp_path, "driver", ["part-0001.parquet"])[0])
    driver.adopt(unit.staged())
    driver.commit({})
    assert [f["name"] for f in meta(backend)["files"]] == [
        f"part-0001-{driver.tag}.parquet", f"unit-0001-{driver.tag}.parquet"]


def test_adopting_a_name_already_staged_is_refused(tmp_path: Path) -> None:
    driver = PartitionCommitter(store(), PARTITION, "run-1")
    driver.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    with pytest.raises(CommitError, match=r"two data files are named 'part-0001.parquet'$"):
        driver.adopt([("part-0001.parquet", "part-0001-x.parquet", 1)])


def test_nothing_is_adopted_after_the_commit(tmp_path: Path) -> None:
    driver = land(store(), tmp_path, "run-1", ["part-0001.parquet"])
    with pytest.raises(CommitError, match=r"cannot adopt files, this run is committed$"):
        driver.adopt([("unit-0001.parquet", "unit-0001-x.parquet", 1)])


def test_a_joined_abort_removes_only_its_own_staged_files(tmp_path: Path) -> None:
    backend = store()
    driver = PartitionCommitter(backend, PARTITION, "run-1")
    driver.upload(files(tmp_path, "driver", ["part-0001.parquet"])[0])
    unit = PartitionCommitter(backend, PARTITION, "run-1", tag=driver.tag)
    unit.upload(files(tmp_path, "unit", ["unit-0001.parquet"])[0])
    unit.abort()
    assert sorted(backend.inner.files) == [f"{driver.staging}/part-0001-{driver.tag}.parquet"]


def test_abort_before_any_commit_removes_the_staged_files(tmp_path: Path) -> None:
    backend = store()
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    committer.abort()
    assert backend.inner.files == {}


# --- local disk ----------------------------------------------------------------------------


def local(tmp_path: Path) -> RecordingBackend:
    return RecordingBackend(local_backend(str(tmp_path / "lake")))


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_local_commit_leaves_only_the_partition_and_the_empty_private_area(
    tmp_path: Path,
) -> None:
    backend = local(tmp_path)
    committer = land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    lake = tmp_path / "lake"
    assert tree(lake) == [
        "_foundry", "_foundry/staging", "system=shop", "system=shop/table=orders",
        f"{PARTITION}", f"{PARTITION}/{METADATA_FILE}",
        f"{PARTITION}/part-0001-{committer.tag}.parquet",
    ]


def test_a_local_replace_leaves_only_the_new_commit(tmp_path: Path) -> None:
    backend = local(tmp_path)
    land(backend, tmp_path, "run-1", ["part-0001.parquet", "part-0002.parquet"])
    second = land(backend, tmp_path, "run-2", ["part-0001.parquet"])
    folder = tmp_path / "lake" / PARTITION
    assert sorted(p.name for p in folder.iterdir()) == [
        METADATA_FILE, f"part-0001-{second.tag}.parquet"]
    assert not list((tmp_path / "lake" / "_foundry" / "staging").iterdir())


def test_a_local_replace_without_the_exchange_call_renames_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commit_module, "_exchange", lambda a, b: False)
    backend = local(tmp_path)
    land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    second = land(backend, tmp_path, "run-2", ["part-0002.parquet"])
    folder = tmp_path / "lake" / PARTITION
    assert sorted(p.name for p in folder.iterdir()) == [
        METADATA_FILE, f"part-0002-{second.tag}.parquet"]
    assert not list((tmp_path / "lake" / "_foundry" / "staging").iterdir())


def test_a_failed_second_rename_puts_the_previous_commit_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commit_module, "_exchange", lambda a, b: False)
    backend = local(tmp_path)
    first = land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    real_rename = commit_module.os.rename

    def rename(a: str, b: str) -> None:
        if "attempt-" in a and b.endswith("dt=2025-01-12"):
            raise OSError(28, "No space left on device")
        real_rename(a, b)

    monkeypatch.setattr(commit_module.os, "rename", rename)
    committer = PartitionCommitter(backend, PARTITION, "run-2")
    committer.upload(files(tmp_path, "run-2", ["part-0001.parquet"])[0])
    with pytest.raises(CommitError, match=r"commit is intact: \[Errno 28\] No space left"):
        committer.commit({"run": "run-2"})
    folder = tmp_path / "lake" / PARTITION
    assert sorted(p.name for p in folder.iterdir()) == [
        METADATA_FILE, f"part-0001-{first.tag}.parquet"]


def test_old_folder_removal_failing_after_a_local_commit_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    backend = local(tmp_path)
    land(backend, tmp_path, "run-1", ["part-0001.parquet"])

    def rmtree(path: str, *a: Any, **kw: Any) -> None:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(commit_module.shutil, "rmtree", rmtree)
    with caplog.at_level(logging.WARNING, logger="foundry.storage"):
        second = land(backend, tmp_path, "run-2", ["part-0001.parquet"])
    assert meta(backend)["run"] == "run-2"
    folder = tmp_path / "lake" / PARTITION
    leftover = tmp_path / "lake" / STAGING / f"attempt-{second.tag}"
    assert [r.getMessage() for r in caplog.records] == [
        f"partition {folder} is committed, but removing {leftover} failed: "
        "[Errno 13] Permission denied"
    ]


def test_a_local_staged_file_that_vanished_fails_the_commit(tmp_path: Path) -> None:
    backend = local(tmp_path)
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    (tmp_path / "lake" / committer.staging / f"part-0001-{committer.tag}.parquet").unlink()
    with pytest.raises(CommitError) as info:
        committer.commit({})
    assert info.value.message == (
        f"partition {PARTITION}: commit failed, the previous commit is intact: 1 file(s) to "
        f"commit are not staged (part-0001-{committer.tag}.parquet); another run may have "
        "removed them"
    )


def test_a_local_commit_drops_a_dead_attempts_files_from_staging(tmp_path: Path) -> None:
    backend = local(tmp_path)
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    (tmp_path / "lake" / committer.staging / "unit-0001-dead.parquet").write_bytes(b"x")
    committer.commit({})
    folder = tmp_path / "lake" / PARTITION
    assert sorted(p.name for p in folder.iterdir()) == [
        METADATA_FILE, f"part-0001-{committer.tag}.parquet"]


def test_a_local_abort_removes_the_attempt_and_the_empty_staging_folders(tmp_path: Path) -> None:
    backend = local(tmp_path)
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    committer.abort()
    assert tree(tmp_path / "lake") == ["_foundry", "_foundry/staging"]


def test_a_local_abort_through_a_link_removes_nothing_and_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    backend = local(tmp_path)
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "lake" / "system=shop").symlink_to(elsewhere)
    with caplog.at_level(logging.WARNING, logger="foundry.storage"):
        committer.abort()
    assert (tmp_path / "lake" / committer.staging / f"part-0001-{committer.tag}.parquet").exists()
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        f"not removing the staged files: {tmp_path / 'lake' / 'system=shop'} is a symbolic "
        f"link (to {elsewhere}), on the way to the partition folder "
        f"{tmp_path / 'lake' / PARTITION}"
    ]


# --- more edges the mutants showed ----------------------------------------------------------


def test_after_a_commit_an_abort_changes_nothing_and_the_run_stays_committed(
        tmp_path: Path) -> None:
    backend = store()
    committer = land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    committer.abort()
    with pytest.raises(CommitError, match=r"cannot upload, this run is committed$"):
        committer.upload(str(tmp_path / "run-1" / "part-0001.parquet"))


def test_an_abort_keeps_the_files_a_marker_lists_even_when_its_write_reported_failure(
        tmp_path: Path) -> None:
    class WroteThenFailed(RecordingBackend):
        def write_bytes(self, path: str, data: bytes) -> None:
            super().write_bytes(path, data)  # the marker landed; the answer was lost
            raise StorageError("timed out", transient=True)

    backend = WroteThenFailed(MemoryBackend("lake", {}))
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    with pytest.raises(CommitError):
        committer.commit({"run": "run-1"})
    committer.abort()
    listed = [f["name"] for f in meta(backend)["files"]]
    assert [n for n in listed if f"{PARTITION}/{n}" not in backend.inner.files] == []


def test_adopted_files_are_listed_with_their_sizes(tmp_path: Path) -> None:
    backend = store()
    driver = PartitionCommitter(backend, PARTITION, "run-1")
    unit = PartitionCommitter(backend, PARTITION, "run-1", tag=driver.tag)
    unit.upload(files(tmp_path, "unit", ["unit-0001.parquet"])[0])
    driver.adopt(unit.staged())
    driver.commit({})
    assert meta(backend)["files"] == [
        {"name": f"unit-0001-{driver.tag}.parquet", "size": len(b"unit:unit-0001.parquet")}]


def test_a_failed_exchange_call_says_why_with_the_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    (tmp_path / "there").mkdir()
    with pytest.raises(OSError) as info:
        commit_module._exchange(missing, str(tmp_path / "there"))
    assert (info.value.errno, info.value.strerror, info.value.filename) == (
        2, "renameat2 exchange failed: No such file or directory", missing)


def test_a_local_commit_names_at_most_three_missing_files(tmp_path: Path) -> None:
    backend = local(tmp_path)
    committer = PartitionCommitter(backend, PARTITION, "run-1", tag="0badf00d")
    for path in files(tmp_path, "run-1", [f"part-000{i}.parquet" for i in range(1, 5)]):
        committer.upload(path)
    for staged in (tmp_path / "lake" / committer.staging).iterdir():
        staged.unlink()
    with pytest.raises(CommitError) as info:
        committer.commit({})
    assert info.value.message.endswith(
        ": 4 file(s) to commit are not staged (part-0001-0badf00d.parquet, "
        "part-0002-0badf00d.parquet, part-0003-0badf00d.parquet); another run may have "
        "removed them")


def test_a_local_commit_of_another_date_of_a_committed_table(tmp_path: Path) -> None:
    backend = local(tmp_path)
    land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    other = PartitionCommitter(backend, "system=shop/table=orders/dt=2025-01-13", "run-2")
    other.upload(files(tmp_path, "run-2", ["part-0001.parquet"])[0])
    other.commit({})
    table = tmp_path / "lake" / "system=shop" / "table=orders"
    assert sorted(p.name for p in table.iterdir()) == ["dt=2025-01-12", "dt=2025-01-13"]


def test_a_local_replace_carries_nested_partitions_only(tmp_path: Path) -> None:
    backend = local(tmp_path)
    land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    folder = tmp_path / "lake" / PARTITION
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("hour=01", "_spark_metadata", ".hidden"):
        (folder / name).mkdir()
        (folder / name / "f").write_text(name)
    (folder / "linked").symlink_to(elsewhere)
    second = land(backend, tmp_path, "run-2", ["part-0001.parquet"])
    assert sorted(p.name for p in folder.iterdir()) == [
        METADATA_FILE, "hour=01", f"part-0001-{second.tag}.parquet"]
    assert (folder / "hour=01" / "f").read_text() == "hour=01"
    assert elsewhere.exists()  # what a link pointed to is never touched


def test_a_nested_partition_that_cannot_be_carried_puts_the_others_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    backend = local(tmp_path)
    land(backend, tmp_path, "run-1", ["part-0001.parquet"])
    folder = tmp_path / "lake" / PARTITION
    for hour in ("hour=01", "hour=02"):
        (folder / hour).mkdir()
    real_rename = commit_module.os.rename
    moved: list[str] = []

    def rename(a: str, b: str) -> None:
        if "hour=" in a and "attempt-" in b:
            if moved:
                raise OSError(16, "Device or resource busy")
            moved.append(a)
        real_rename(a, b)

    monkeypatch.setattr(commit_module.os, "rename", rename)
    committer = PartitionCommitter(backend, PARTITION, "run-2")
    committer.upload(files(tmp_path, "run-2", ["part-0001.parquet"])[0])
    with pytest.raises(CommitError, match=r"commit is intact: \[Errno 16\] Device or resource busy"):
        committer.commit({"run": "run-2"})
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["hour=01", "hour=02"]
    assert meta(backend)["run"] == "run-1"


def test_a_local_abort_that_cannot_remove_its_staging_still_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def rmtree(path: str, ignore_errors: bool = False, **kw: Any) -> None:
        if not ignore_errors:
            raise OSError(13, "Permission denied")

    backend = local(tmp_path)
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    monkeypatch.setattr(commit_module.shutil, "rmtree", rmtree)
    committer.abort()  # staging that stays is recovery's to remove


def test_nothing_is_uploaded_while_the_commit_is_under_way(tmp_path: Path) -> None:
    seen: list[str] = []

    class UploadsMidCommit(RecordingBackend):
        def copy_file(self, source: str, target: str) -> None:
            try:
                committer.upload(str(tmp_path / "late.parquet"))
            except CommitError as exc:
                seen.append(exc.message)
            super().copy_file(source, target)

    (tmp_path / "late.parquet").write_bytes(b"late")
    committer = PartitionCommitter(UploadsMidCommit(MemoryBackend("lake", {})), PARTITION, "r")
    committer.upload(files(tmp_path, "r", ["part-0001.parquet"])[0])
    committer.commit({})
    assert seen == [f"partition {PARTITION}: cannot upload, this run is committing"]


def test_after_a_commit_failing_with_an_os_error_the_run_is_failed(tmp_path: Path) -> None:
    backend = FailingBackend(MemoryBackend("lake", {}), error=OSError("disk quota exceeded"))
    backend.fail["write"] = METADATA_FILE
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    (path,) = files(tmp_path, "run-1", ["part-0001.parquet"])
    committer.upload(path)
    with pytest.raises(CommitError):
        committer.commit({})
    with pytest.raises(CommitError) as info:
        committer.upload(path)
    assert info.value.message == f"partition {PARTITION}: cannot upload, this run is failed"


def test_metadata_values_json_cannot_hold_are_written_as_text(tmp_path: Path) -> None:
    import datetime as dt

    backend = store()
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    committer.commit({"batch_timestamp": dt.datetime(2025, 1, 12, 14, 30)})
    assert meta(backend)["batch_timestamp"] == "2025-01-12 14:30:00"


def test_a_file_entry_without_a_name_is_refused(tmp_path: Path) -> None:
    committer = PartitionCommitter(store(), PARTITION, "run-1")
    committer.upload(files(tmp_path, "run-1", ["part-0001.parquet"])[0])
    with pytest.raises(CommitError) as info:
        committer.commit({"files": [{"rows": 3}]})
    assert info.value.message == f"partition {PARTITION}: metadata lists '', which was not uploaded"


def test_the_committed_list_is_in_the_order_of_the_final_names(tmp_path: Path) -> None:
    backend = store()
    committer = PartitionCommitter(backend, PARTITION, "run-1", tag="0badf00d")
    for path in files(tmp_path, "run-1", ["a.csv", "a-b.csv"]):
        committer.upload(path)
    committer.commit({})
    # "a-0badf00d.csv" sorts before "a-b-0badf00d.csv", though "a-b.csv" sorts before "a.csv"
    assert [f["name"] for f in meta(backend)["files"]] == ["a-0badf00d.csv", "a-b-0badf00d.csv"]


def test_a_joined_local_abort_removes_only_its_own_staged_files(tmp_path: Path) -> None:
    backend = local(tmp_path)
    driver = PartitionCommitter(backend, PARTITION, "run-1")
    driver.upload(files(tmp_path, "driver", ["part-0001.parquet"])[0])
    unit = PartitionCommitter(backend, PARTITION, "run-1", tag=driver.tag)
    unit.upload(files(tmp_path, "unit", ["unit-0001.parquet"])[0])
    unit.abort()
    staged = tmp_path / "lake" / driver.staging
    assert sorted(p.name for p in staged.iterdir()) == [f"part-0001-{driver.tag}.parquet"]


def test_an_exchange_the_kernel_calls_invalid_reads_as_no_exchange(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    # a folder cannot swap places with a folder inside it: EINVAL, as where the filesystem
    # has no RENAME_EXCHANGE, so the caller falls back to two renames
    assert commit_module._exchange(str(tmp_path / "a"), str(inner)) is False
    assert inner.is_dir()
