"""The commit protocol on all four backends: data first, metadata last, replace, abort."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from foundry_dsl.errors import CommitError, StorageError
from foundry_dsl.storage.base import StorageBackend
from foundry_dsl.storage.commit import PartitionCommitter
from foundry_dsl.storage.layout import METADATA_FILE, committed_metadata
from foundry_dsl.storage.recover import recover
from foundry_dsl.storage.registry import backend_for
from tests.fixtures.storage_services import Service, make_pipeline

PARTITION = "system=shop/table=orders/dt=2025-01-12"


@pytest.fixture
def backend(any_service: Service, prefix: str) -> StorageBackend:
    return backend_for(make_pipeline(any_service.storage(prefix)))


def _files(tmp_path: Path, run: str, count: int) -> list[str]:
    folder = tmp_path / run
    folder.mkdir()
    paths = []
    for i in range(1, count + 1):
        p = folder / f"part-{i:04d}.parquet"
        p.write_bytes(f"{run}:{i}".encode())
        paths.append(str(p))
    return paths


def _land(backend: StorageBackend, tmp_path: Path, run: str, count: int) -> dict:
    committer = PartitionCommitter(backend, PARTITION, run)
    for path in _files(tmp_path, run, count):
        committer.upload(path)
    meta = {"run": run, "total_records": count}
    committer.commit(meta)
    return meta


def _data_files(backend: StorageBackend) -> list[str]:
    cut = len(PARTITION) + 1
    return [p[cut:] for p in backend.list_files(PARTITION) if not p.endswith(METADATA_FILE)]


def _contents(backend: StorageBackend, meta: dict) -> list[bytes | None]:
    return [backend.read_bytes(f"{PARTITION}/{f['name']}") for f in meta["files"]]


def test_nothing_is_committed_before_the_first_commit(backend: StorageBackend) -> None:
    assert committed_metadata(backend, PARTITION) is None


def test_commit_makes_the_metadata_list_exactly_the_partition_files(
    backend: StorageBackend, tmp_path: Path
) -> None:
    _land(backend, tmp_path, "run-1", 3)
    meta = committed_metadata(backend, PARTITION)
    assert meta is not None
    assert meta["run"] == "run-1"
    assert meta["num_files"] == 3
    assert sorted(f["name"] for f in meta["files"]) == _data_files(backend)
    assert _contents(backend, meta) == [b"run-1:1", b"run-1:2", b"run-1:3"]


def test_file_names_carry_the_attempt_tag_on_every_backend(
    backend: StorageBackend, tmp_path: Path
) -> None:
    # so a reader whose listing straddles a commit cannot mix two commits' files
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    final = committer.upload(_files(tmp_path, "run-1", 1)[0])
    assert final == f"part-0001-{committer.tag}.parquet"


def test_a_rerun_replaces_the_partition(backend: StorageBackend, tmp_path: Path) -> None:
    _land(backend, tmp_path, "run-1", 3)
    _land(backend, tmp_path, "run-2", 2)
    meta = committed_metadata(backend, PARTITION)
    assert meta is not None
    assert meta["run"] == "run-2"
    assert sorted(f["name"] for f in meta["files"]) == _data_files(backend)
    assert _contents(backend, meta) == [b"run-2:1", b"run-2:2"]


def test_commit_maps_the_executor_file_entries_to_final_names(
    backend: StorageBackend, tmp_path: Path
) -> None:
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    finals = [committer.upload(p) for p in _files(tmp_path, "run-1", 2)]
    meta = {"files": [{"name": "part-0002.parquet", "rows": 7}, "part-0001.parquet"]}
    committer.commit(meta)
    assert meta["files"] == [
        {"name": finals[0], "size": 7},
        {"name": finals[1], "rows": 7, "size": 7},
    ]
    assert committed_metadata(backend, PARTITION) == meta


def test_metadata_naming_a_file_not_uploaded_is_refused(
    backend: StorageBackend, tmp_path: Path
) -> None:
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.upload(_files(tmp_path, "run-1", 1)[0])
    with pytest.raises(CommitError, match=re.escape("metadata lists 'part-0009.parquet', which was not uploaded")):
        committer.commit({"files": ["part-0009.parquet"]})
    assert committed_metadata(backend, PARTITION) is None


def test_abort_leaves_the_previous_commit_intact(backend: StorageBackend, tmp_path: Path) -> None:
    _land(backend, tmp_path, "run-1", 2)
    before = _data_files(backend)
    committer = PartitionCommitter(backend, PARTITION, "run-2")
    for path in _files(tmp_path, "run-2", 3):
        committer.upload(path)
    committer.abort()
    meta = committed_metadata(backend, PARTITION)
    assert meta is not None and meta["run"] == "run-1"
    assert _data_files(backend) == before
    assert _contents(backend, meta) == [b"run-1:1", b"run-1:2"]


class FailingAfter(StorageBackend):
    """Our own seam: the real backend, except that upload N+1 raises a transient error."""

    def __init__(self, inner: StorageBackend, uploads: int) -> None:
        self.inner, self.left = inner, uploads
        self.root_url = inner.root_url
        self.local_root = getattr(inner, "local_root", None)

    def upload_file(self, local_path: str, remote_path: str) -> None:
        if self.left == 0:
            raise StorageError("injected failure", transient=True)
        self.left -= 1
        self.inner.upload_file(local_path, remote_path)

    def download_file(self, remote_path: str, local_path: str) -> None:
        self.inner.download_file(remote_path, local_path)

    def list_files(self, prefix: str) -> list[str]:
        return self.inner.list_files(prefix)

    def delete_file(self, remote_path: str) -> None:
        self.inner.delete_file(remote_path)

    def get_backend_type(self) -> str:
        return self.inner.get_backend_type()

    def exists(self, path: str) -> bool:
        return self.inner.exists(path)

    def read_bytes(self, path: str) -> bytes | None:
        return self.inner.read_bytes(path)

    def write_bytes(self, path: str, data: bytes) -> None:
        self.inner.write_bytes(path, data)


def test_a_failure_mid_upload_leaves_the_previous_commit_committed(
    backend: StorageBackend, tmp_path: Path
) -> None:
    _land(backend, tmp_path, "run-1", 2)
    flaky = FailingAfter(backend, uploads=2)
    committer = PartitionCommitter(flaky, PARTITION, "run-2")
    paths = _files(tmp_path, "run-2", 4)
    with pytest.raises(StorageError, match="injected failure"):
        for path in paths:
            committer.upload(path)
    meta = committed_metadata(backend, PARTITION)
    assert meta is not None and meta["run"] == "run-1"
    assert _contents(backend, meta) == [b"run-1:1", b"run-1:2"]


def test_recover_removes_what_a_killed_run_left_behind(
    backend: StorageBackend, tmp_path: Path
) -> None:
    _land(backend, tmp_path, "run-1", 2)
    before = _data_files(backend)
    killed = PartitionCommitter(backend, PARTITION, "run-2")
    for path in _files(tmp_path, "run-2", 3):
        killed.upload(path)  # and then the process dies: no commit, no abort
    recover(backend, PARTITION)
    assert _data_files(backend) == before
    assert [p for p in backend.list_files("system=shop") if "staging" in p] == []
    assert backend.list_files("_foundry/staging") == []
    meta = committed_metadata(backend, PARTITION)
    assert meta is not None and meta["run"] == "run-1"


def test_recover_keeps_nested_partitions(backend: StorageBackend, tmp_path: Path) -> None:
    backend.write_bytes(f"{PARTITION}/hour=14/part-0001-0123abcd.parquet", b"nested")
    _land(backend, tmp_path, "run-1", 1)
    recover(backend, PARTITION)
    assert backend.read_bytes(f"{PARTITION}/hour=14/part-0001-0123abcd.parquet") == b"nested"


def test_upload_after_commit_is_refused(backend: StorageBackend, tmp_path: Path) -> None:
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.commit({})
    with pytest.raises(CommitError, match="cannot upload, this run is committed"):
        committer.upload(_files(tmp_path, "run-1", 1)[0])


def test_reserved_file_names_are_refused(backend: StorageBackend, tmp_path: Path) -> None:
    path = tmp_path / METADATA_FILE
    path.write_text("{}")
    with pytest.raises(CommitError, match=re.escape("names starting with '_' or '.' are reserved")):
        PartitionCommitter(backend, PARTITION, "run-1").upload(str(path))


def test_an_invalid_partition_path_is_refused(backend: StorageBackend) -> None:
    with pytest.raises(CommitError, match=re.escape("invalid partition path 'a/../b'")):
        PartitionCommitter(backend, "a/../b", "run-1")


def test_committed_metadata_is_pretty_sorted_json(backend: StorageBackend, tmp_path: Path) -> None:
    _land(backend, tmp_path, "run-1", 1)
    raw = backend.read_bytes(f"{PARTITION}/{METADATA_FILE}")
    assert raw is not None
    assert raw.decode() == json.dumps(json.loads(raw), indent=2, sort_keys=True)


def test_a_run_that_lost_its_lease_does_not_commit(backend: StorageBackend, tmp_path: Path) -> None:
    _land(backend, tmp_path, "run-1", 2)
    before = _data_files(backend)

    def lost() -> None:
        raise StorageError("lost the lease on system=shop/table=orders")

    late = PartitionCommitter(backend, PARTITION, "run-2", guard=lost)
    for path in _files(tmp_path, "run-2", 3):
        late.upload(path)
    with pytest.raises(CommitError, match="lost the lease"):
        late.commit({"run": "run-2"})
    late.abort()
    meta = committed_metadata(backend, PARTITION)
    assert meta is not None and meta["run"] == "run-1"
    assert _data_files(backend) == before


def test_a_staged_file_that_vanished_fails_the_commit(backend: StorageBackend, tmp_path: Path) -> None:
    _land(backend, tmp_path, "run-1", 1)
    committer = PartitionCommitter(backend, PARTITION, "run-2")
    for path in _files(tmp_path, "run-2", 2):
        committer.upload(path)
    staged = backend.list_files(committer.staging)
    backend.delete_file(staged[0])  # what a second run's recovery used to do
    with pytest.raises(CommitError, match="not"):
        committer.commit({"run": "run-2"})
    meta = committed_metadata(backend, PARTITION)
    assert meta is not None and meta["run"] == "run-1"


def test_object_store_commit_order_is_copy_check_marker_then_deletes(
    moto_s3: Service, prefix: str, tmp_path: Path
) -> None:
    from tests.storage.recording_backend import RecordingBackend

    backend = RecordingBackend(backend_for(make_pipeline(moto_s3.storage(prefix))))
    _land(backend, tmp_path, "run-1", 2)
    committed_meta_of_run_1 = committed_metadata(backend, PARTITION)
    assert committed_meta_of_run_1 is not None
    backend.ops.clear()
    committer = PartitionCommitter(backend, PARTITION, "run-2", guard=lambda: backend.ops.append(("guard", "")))
    for path in _files(tmp_path, "run-2", 2):
        committer.upload(path)
    committer.commit({"run": "run-2"})
    ops = [(op, path.split("/")[-1] if "staging" not in path else "staged:" + path.split("/")[-1])
           for op, path in backend.ops if op != "read"]
    marker = ops.index(("write", METADATA_FILE))
    kinds_before = {op for op, _ in ops[:marker]}
    kinds_after = {op for op, _ in ops[marker + 1:]}
    assert ops[marker - 1] == ("guard", "")  # the lease is checked right before the marker
    assert "copy" in kinds_before and "delete" not in kinds_before
    # after the marker only removals: old files, then whatever is left in staging
    # (a dead attempt's files too), found by listing it
    assert kinds_after == {"delete", "list"}
    assert [op for op, _ in ops[marker + 1:]].index("list") > max(
        i for i, (op, name) in enumerate(ops[marker + 1:]) if op == "delete" and "staged:" not in name
    )
    old_files = {f["name"] for f in committed_meta_of_run_1["files"]}
    deleted = {name for op, name in ops[marker + 1:] if op == "delete"}
    assert {n for n in deleted if not n.startswith("staged:")} == old_files
