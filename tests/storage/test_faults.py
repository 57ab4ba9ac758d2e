"""Object-store faults: a proxy fails a quarter of S3 writes; commits stay whole."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from foundry_dsl.errors import FoundryError
from foundry_dsl.storage.base import StorageBackend
from foundry_dsl.storage.commit import PartitionCommitter
from foundry_dsl.storage.fsspec_backend import FsspecBackend
from foundry_dsl.storage.layout import committed_metadata
from foundry_dsl.storage.recover import recover
from foundry_dsl.storage.registry import backend_for
from tests.fixtures.fault_proxy import FaultProxy
from tests.fixtures.storage_services import Service, make_pipeline, s3_storage

PARTITION = "system=shop/table=orders/dt=2025-01-12"
ENV_PROXY = "FOUNDRY_TEST_S3_PROXY_ENDPOINT"


class CommitWatcher(threading.Thread):
    """A reader on the direct connection: every file the committed metadata lists must
    be readable, unless the metadata moved on meanwhile (the old files go after it)."""

    def __init__(self, backend: StorageBackend) -> None:
        super().__init__(daemon=True)
        self.backend = backend
        self.stop = threading.Event()
        self.seen: set[str] = set()
        self.problems: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            meta = committed_metadata(self.backend, PARTITION)
            if meta is None:
                self.problems.append("the committed partition disappeared")
                continue
            self.seen.add(meta["run"])
            for f in meta["files"]:
                content = self.backend.read_bytes(f"{PARTITION}/{f['name']}")
                if content != meta["run"].encode():
                    now = committed_metadata(self.backend, PARTITION)
                    if now is None or now["run"] == meta["run"]:
                        self.problems.append(f"{f['name']} of {meta['run']} read as {content!r}")


def _land(backend: StorageBackend, tmp_path: Path, run: str, count: int) -> None:
    committer = PartitionCommitter(backend, PARTITION, run)
    try:
        for i in range(1, count + 1):
            path = tmp_path / f"part-{i:04d}.parquet"
            path.write_bytes(run.encode())
            committer.upload(str(path))
        committer.commit({"run": run})
    except FoundryError:
        committer.abort()
        raise


def test_commits_through_a_proxy_failing_a_quarter_of_writes_stay_whole(
    moto_s3: Service, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct = backend_for(make_pipeline(moto_s3.storage(prefix)))
    _land(direct, tmp_path, "run-0", 3)
    upstream = int(moto_s3.endpoint.rsplit(":", 1)[1])
    with FaultProxy(upstream, fail_every=4) as proxy:
        monkeypatch.setenv(ENV_PROXY, proxy.endpoint)
        flaky = backend_for(make_pipeline(s3_storage(prefix, endpoint_env=ENV_PROXY)))
        assert isinstance(flaky, FsspecBackend)
        watcher = CommitWatcher(direct)
        watcher.start()
        outcomes = []
        try:
            for run in ("run-1", "run-2", "run-3"):
                try:
                    recover(flaky, PARTITION)
                    _land(flaky, tmp_path, run, 4)
                    outcomes.append(run)
                except FoundryError:
                    outcomes.append("failed")
        finally:
            watcher.stop.set()
            watcher.join()
    # botocore and our backoff retry every injected fault, so all three runs land
    assert outcomes == ["run-1", "run-2", "run-3"]
    assert proxy.writes >= 15
    assert proxy.failed / proxy.writes >= 0.10
    assert watcher.problems == []
    committed = [r for r in outcomes if r != "failed"]
    meta = committed_metadata(direct, PARTITION)
    assert meta is not None
    assert meta["run"] == (committed[-1] if committed else "run-0")
    cut = len(PARTITION) + 1
    on_store = sorted(p[cut:] for p in direct.list_files(PARTITION) if not p.endswith(".json"))
    assert on_store == sorted(f["name"] for f in meta["files"])


def test_when_every_write_fails_the_run_fails_cleanly_and_the_previous_commit_stays(
    moto_s3: Service, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from foundry_dsl.storage.retry import Backoff

    direct = backend_for(make_pipeline(moto_s3.storage(prefix)))
    _land(direct, tmp_path, "run-0", 2)
    upstream = int(moto_s3.endpoint.rsplit(":", 1)[1])
    with FaultProxy(upstream, fail_every=1) as proxy:
        monkeypatch.setenv(ENV_PROXY, proxy.endpoint)
        flaky = backend_for(make_pipeline(s3_storage(prefix, endpoint_env=ENV_PROXY)))
        assert isinstance(flaky, FsspecBackend)
        flaky.backoff = Backoff(attempts=2, base=0.01)
        with pytest.raises(FoundryError) as info:
            _land(flaky, tmp_path, "run-1", 2)
    assert info.value.transient is True
    assert "rerun to retry" in info.value.message
    meta = committed_metadata(direct, PARTITION)
    assert meta is not None and meta["run"] == "run-0"
    assert [direct.read_bytes(f"{PARTITION}/{f['name']}") for f in meta["files"]] == [b"run-0"] * 2
