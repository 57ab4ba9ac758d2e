"""Custom backends: a dotted class path or a `foundry.storage` entry point."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ConfigError
from foundry_dsl.storage.commit import PartitionCommitter
from foundry_dsl.storage.layout import committed_metadata
from foundry_dsl.storage.registry import backend_for
from tests.fixtures.storage_services import make_pipeline
from tests.storage.memory_backend import MemoryBackend


@pytest.mark.parametrize(
    "dotted", ["tests.storage.memory_backend:MemoryBackend", "tests.storage.memory_backend.MemoryBackend"]
)
def test_a_dotted_class_path_builds_the_backend(dotted: str) -> None:
    backend = backend_for(make_pipeline(ir.CustomStorage(backend=dotted, root="lake")))
    assert isinstance(backend, MemoryBackend)
    assert backend.root_url == "memory://lake"


def test_options_reach_the_backend_with_env_refs_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOUNDRY_TEST_MEMORY_TOKEN", "tok")
    storage = ir.CustomStorage(
        backend="tests.storage.memory_backend:MemoryBackend",
        options={"size": 3, "token": ir.EnvRef(name="FOUNDRY_TEST_MEMORY_TOKEN")},
    )
    backend = backend_for(make_pipeline(storage))
    assert isinstance(backend, MemoryBackend)
    assert backend.options == {"size": 3, "token": "tok"}


def test_an_entry_point_name_builds_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dist = tmp_path / "foundry_memory-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: foundry-memory\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[foundry.storage]\nmemory = tests.storage.memory_backend:MemoryBackend\n"
    )
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    backend = backend_for(make_pipeline(ir.CustomStorage(backend="memory")))
    assert isinstance(backend, MemoryBackend)


def test_an_unknown_backend_is_a_config_error_with_help() -> None:
    with pytest.raises(ConfigError) as info:
        backend_for(make_pipeline(ir.CustomStorage(backend="nosuch")))
    assert info.value.diagnostics[0].message == "unknown storage backend 'nosuch'"
    assert info.value.diagnostics[0].help is not None
    assert "'package.module:Class'" in info.value.diagnostics[0].help


def test_a_class_that_is_not_a_backend_is_refused() -> None:
    storage = ir.CustomStorage(backend="tests.storage.memory_backend:NotABackend")
    with pytest.raises(ConfigError, match="is not a StorageBackend"):
        backend_for(make_pipeline(storage))


def test_a_custom_backend_gets_the_object_store_commit_protocol(tmp_path: Path) -> None:
    backend = backend_for(
        make_pipeline(ir.CustomStorage(backend="tests.storage.memory_backend:MemoryBackend"))
    )
    for run in ("run-1", "run-2"):
        committer = PartitionCommitter(backend, "system=a/table=b/dt=1", run)
        src = tmp_path / "part-0001.parquet"
        src.write_bytes(run.encode())
        committer.upload(str(src))
        committer.commit({"run": run})
    meta = committed_metadata(backend, "system=a/table=b/dt=1")
    assert meta is not None and meta["run"] == "run-2"
    assert backend.list_files("system=a") == sorted(
        ["system=a/table=b/dt=1/_metadata.json", f"system=a/table=b/dt=1/{meta['files'][0]['name']}"]
    )


def test_a_backend_without_conditional_writes_still_runs_and_warns_that_runs_may_overlap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.executor.helpers import apply, custom_pipeline, only
    from tests.storage.memory_backend import SharedMemoryBackend

    p = custom_pipeline(tmp_path, """
class Source:
    def extract(self, ctx):
        yield [{"id": 1}, {"id": 2}]
""", table="shared")
    root = f"lake-{tmp_path.name}"
    storage = ir.CustomStorage(backend="tests.storage.memory_backend:SharedMemoryBackend", root=root)
    p = p.model_copy(update={"platform": p.platform.model_copy(update={"storage": storage})})
    with caplog.at_level("WARNING", logger="foundry"):
        result = only(apply(p))
    assert result.status == "succeeded", result.error
    files = SharedMemoryBackend.STORES[root]
    assert "system=s/table=shared/dt=2025-01-12/_metadata.json" in files
    assert any("cannot stop two runs from writing" in r.getMessage() for r in caplog.records)
