"""Local commits swap whole folders: a reader listing the partition never sees a mix."""

from __future__ import annotations

import errno
import json
import os
import threading
from pathlib import Path

import pytest

from foundry_dsl.errors import CommitError
from foundry_dsl.storage import commit as commit_module
from foundry_dsl.storage.commit import PartitionCommitter
from foundry_dsl.storage.layout import METADATA_FILE, committed_metadata
from foundry_dsl.storage.local import local_backend
from foundry_dsl.storage.recover import recover

PARTITION = "system=shop/table=orders/dt=2025-01-12"
COMMITS = 40


class Reader(threading.Thread):
    """Opens the partition folder, lists it once, reads everything through that handle."""

    def __init__(self, folder: str) -> None:
        super().__init__(daemon=True)
        self.folder = folder
        self.stop = threading.Event()
        self.snapshots = 0
        self.absent = 0
        self.vanished = 0
        self.problems: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:
                self.absent += 1
                continue
            try:
                self.check(fd)
            except FileNotFoundError:
                # the folder this reader opened was replaced and then deleted while it
                # read: it sees files vanish (and retries), never a mix
                self.vanished += 1
            except Exception as exc:  # a dead reader must fail the test, not pass it
                self.problems.append(repr(exc))
            finally:
                os.close(fd)

    def check(self, fd: int) -> None:
        names = sorted(os.listdir(fd))
        if not self.live(fd):
            # replaced since we opened it and maybe half deleted: what a reader listing a
            # folder that no longer is the partition sees says nothing about the commit
            raise FileNotFoundError(self.folder)
        if METADATA_FILE not in names:
            self.problems.append(f"listing without the commit marker: {names}")
            return
        meta = json.loads(_read(fd, METADATA_FILE))
        data = [n for n in names if n != METADATA_FILE]
        listed = sorted(f["name"] for f in meta["files"])
        if data != listed:
            self.problems.append(f"files {data} but metadata of {meta['run']} lists {listed}")
        for name in data:
            if _read(fd, name) != meta["run"].encode():
                self.problems.append(f"{name} is not from {meta['run']}")
        self.snapshots += 1


    def live(self, fd: int) -> bool:
        """Whether the folder this reader opened is still the one at the partition's path."""
        try:
            return os.stat(self.folder).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False


def _read(dir_fd: int, name: str) -> bytes:
    fd = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def _commit_many(root: Path, tmp_path: Path) -> None:
    backend = local_backend(str(root))
    for i in range(COMMITS):
        run = f"run-{i}"
        committer = PartitionCommitter(backend, PARTITION, run)
        for n in range(1, i % 4 + 2):  # 1..4 files: a mix would show in the counts
            path = tmp_path / f"part-{n:04d}.parquet"
            path.write_bytes(run.encode())
            committer.upload(str(path))
        committer.commit({"run": run})


def _race(tmp_path: Path) -> Reader:
    root = tmp_path / "lake"
    _commit_many(root, tmp_path)  # something committed before the reader starts
    reader = Reader(str(root / PARTITION))
    reader.start()
    try:
        _commit_many(root, tmp_path)
    finally:
        reader.stop.set()
        reader.join()
    return reader


def test_a_reader_never_sees_a_mix_while_commits_replace_the_partition(tmp_path: Path) -> None:
    reader = _race(tmp_path)
    assert reader.problems == []
    assert reader.absent == 0
    assert reader.snapshots > 0


def test_without_exchange_a_reader_sees_the_partition_absent_but_never_mixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(commit_module, "_exchange", lambda a, b: False)
    reader = _race(tmp_path)
    assert reader.problems == []
    assert reader.snapshots > 0


def test_no_staging_folder_is_left_after_a_commit(tmp_path: Path) -> None:
    _commit_many(tmp_path / "lake", tmp_path)
    assert os.listdir(tmp_path / "lake" / "system=shop" / "table=orders") == ["dt=2025-01-12"]


def test_recover_puts_back_a_partition_moved_aside_by_a_killed_fallback(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    backend = local_backend(str(root))
    committer = PartitionCommitter(backend, PARTITION, "run-1")
    committer.commit({"run": "run-1"})
    table = root / "system=shop" / "table=orders"
    area = root / "_foundry" / "staging" / "system=shop" / "table=orders" / "dt=2025-01-12"
    # what a run killed between the fallback's two renames leaves: old aside, new staged
    area.mkdir(parents=True)
    os.rename(table / "dt=2025-01-12", area / "old-0badf00d")
    (area / "attempt-0badf00d").mkdir()
    recover(backend, PARTITION)
    assert os.listdir(table) == ["dt=2025-01-12"]
    assert list((root / "_foundry" / "staging").rglob("*")) == []
    meta = committed_metadata(backend, PARTITION)
    assert meta is not None and meta["run"] == "run-1"


def test_recover_cleans_the_hidden_siblings_older_versions_staged_in(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    backend = local_backend(str(root))
    PartitionCommitter(backend, PARTITION, "run-1").commit({"run": "run-1"})
    table = root / "system=shop" / "table=orders"
    os.rename(table / "dt=2025-01-12", table / ".dt=2025-01-12.old-0badf00d")
    (table / ".dt=2025-01-12.staging-0badf00d").mkdir()
    recover(backend, PARTITION)
    assert os.listdir(table) == ["dt=2025-01-12"]
    meta = committed_metadata(backend, PARTITION)
    assert meta is not None and meta["run"] == "run-1"


def test_staging_lives_outside_the_table_folder_until_the_swap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "lake"
    backend = local_backend(str(root))
    PartitionCommitter(backend, PARTITION, "run-1").commit({"run": "run-1"})
    data = tmp_path / "part-0001.parquet"
    data.write_bytes(b"new")
    committer = PartitionCommitter(backend, PARTITION, "run-2")
    committer.upload(str(data))
    table = root / "system=shop" / "table=orders"
    assert sorted(str(p.relative_to(table)) for p in table.rglob("*")) == [
        "dt=2025-01-12", "dt=2025-01-12/_metadata.json"
    ]
    staged = root / "_foundry" / "staging" / PARTITION / f"attempt-{committer.tag}"
    assert sorted(p.name for p in staged.iterdir()) == [f"part-0001-{committer.tag}.parquet"]


def test_replacing_a_date_partition_keeps_its_hour_partitions(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    backend = local_backend(str(root))
    hour = PartitionCommitter(backend, f"{PARTITION}/hour=14", "run-h")
    hour.commit({"run": "run-h"})
    PartitionCommitter(backend, PARTITION, "run-1").commit({"run": "run-1"})
    PartitionCommitter(backend, PARTITION, "run-2").commit({"run": "run-2"})
    meta = committed_metadata(backend, f"{PARTITION}/hour=14")
    assert meta is not None and meta["run"] == "run-h"


@pytest.mark.parametrize("exchange", ["fails", "unavailable"])
def test_a_swap_that_fails_keeps_the_old_partition_and_its_hour_partitions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: str
) -> None:
    root = tmp_path / "lake"
    backend = local_backend(str(root))
    PartitionCommitter(backend, f"{PARTITION}/hour=14", "run-h").commit({"run": "run-h"})
    PartitionCommitter(backend, PARTITION, "run-1").commit({"run": "run-1"})

    def refuse(a: str, b: str) -> bool:
        if exchange == "unavailable":
            return False  # the fallback's renames then meet the same refusal
        raise OSError(errno.EBUSY, "busy", a)

    real_rename = os.rename

    def rename(a: str, b: str) -> None:
        # the staged folder cannot move into place (the folders moving aside and back can)
        if os.path.basename(a).startswith("attempt-") and os.path.basename(b) == "dt=2025-01-12":
            raise OSError(errno.EBUSY, "busy", a)
        real_rename(a, b)

    monkeypatch.setattr(commit_module, "_exchange", refuse)
    monkeypatch.setattr(commit_module.os, "rename", rename)
    committer = PartitionCommitter(backend, PARTITION, "run-2")
    with pytest.raises(CommitError):
        committer.commit({"run": "run-2"})
    committer.abort()  # what the executor does after a failed commit
    monkeypatch.undo()
    assert (committed_metadata(backend, PARTITION) or {}).get("run") == "run-1"
    assert (committed_metadata(backend, f"{PARTITION}/hour=14") or {}).get("run") == "run-h"


def test_recovery_restores_the_newest_of_several_old_partitions(tmp_path: Path) -> None:
    from foundry_dsl.storage.recover import recover

    root = tmp_path / "lake"
    area = root / "_foundry" / "staging" / "system=shop" / "table=orders" / "dt=2025-01-12"
    for tag, run, age in (("ffff0000", "older", 1_000), ("0000ffff", "newer", 2_000)):
        old = area / f"old-{tag}"  # the tags sort the other way round
        old.mkdir(parents=True)
        (old / METADATA_FILE).write_text(json.dumps({"run": run, "files": []}))
        os.utime(old, ns=(age * 10**9, age * 10**9))  # the later commit is the newer folder
    recover(local_backend(str(root)), PARTITION)
    parent = root / "system=shop" / "table=orders"
    restored = json.loads((parent / "dt=2025-01-12" / METADATA_FILE).read_text())
    assert restored["run"] == "newer"
    assert sorted(p.name for p in parent.iterdir()) == ["dt=2025-01-12"]
    assert list((root / "_foundry" / "staging").rglob("*")) == []
