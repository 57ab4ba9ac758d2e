"""Storage backends: the original tool's interface on all four backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import StorageError
from foundry_dsl.storage.fsspec_backend import FsspecBackend
from foundry_dsl.storage.registry import backend_for, backend_root_url
from tests.fixtures.storage_services import Service, make_pipeline


def _backend(service: Service, prefix: str) -> FsspecBackend:
    backend = backend_for(make_pipeline(service.storage(prefix)))
    assert isinstance(backend, FsspecBackend)
    return backend


def test_backend_type_names_the_store(any_service: Service, prefix: str) -> None:
    assert _backend(any_service, prefix).get_backend_type() == any_service.name


def test_upload_then_download_returns_the_same_bytes(
    any_service: Service, prefix: str, tmp_path: Path
) -> None:
    backend = _backend(any_service, prefix)
    src = tmp_path / "in.bin"
    src.write_bytes(b"\x00bronze\xff" * 1000)
    backend.upload_file(str(src), "system=a/table=b/dt=2025-01-12/part-0001.parquet")
    out = tmp_path / "sub" / "out.bin"
    backend.download_file("system=a/table=b/dt=2025-01-12/part-0001.parquet", str(out))
    assert out.read_bytes() == src.read_bytes()


def test_list_files_is_recursive_relative_and_sorted(
    any_service: Service, prefix: str
) -> None:
    backend = _backend(any_service, prefix)
    for name in ("t/dt=2/b.parquet", "t/dt=1/hour=3/a.parquet", "t/dt=1/a.parquet", "u/x.csv"):
        backend.write_bytes(name, b"x")
    assert backend.list_files("t") == [
        "t/dt=1/a.parquet",
        "t/dt=1/hour=3/a.parquet",
        "t/dt=2/b.parquet",
    ]


def test_list_files_of_a_missing_prefix_is_empty(any_service: Service, prefix: str) -> None:
    assert _backend(any_service, prefix).list_files("nothing/here") == []


def test_delete_file_removes_it_and_is_idempotent(any_service: Service, prefix: str) -> None:
    backend = _backend(any_service, prefix)
    backend.write_bytes("d/f.json", b"{}")
    backend.delete_file("d/f.json")
    backend.delete_file("d/f.json")
    assert not backend.exists("d/f.json")
    assert backend.list_files("d") == []


def test_read_bytes_of_a_missing_file_is_none(any_service: Service, prefix: str) -> None:
    assert _backend(any_service, prefix).read_bytes("no/such.json") is None


def test_write_bytes_replaces_the_whole_content(any_service: Service, prefix: str) -> None:
    backend = _backend(any_service, prefix)
    backend.write_bytes("s/state.json", b"old content that is longer")
    backend.write_bytes("s/state.json", b"new")
    assert backend.read_bytes("s/state.json") == b"new"


def test_download_of_a_missing_file_is_a_terminal_storage_error(
    any_service: Service, prefix: str, tmp_path: Path
) -> None:
    backend = _backend(any_service, prefix)
    with pytest.raises(StorageError) as info:
        backend.download_file("gone/part-0001.parquet", str(tmp_path / "x"))
    assert info.value.transient is False
    assert "pipeline shop.orders:" in info.value.message
    assert backend.url("gone/part-0001.parquet") in info.value.message


def test_storage_disabled_keeps_files_in_the_local_output_dir(
    moto_s3: Service, prefix: str, tmp_path: Path
) -> None:
    pipeline = make_pipeline(
        moto_s3.storage(prefix), storage_enabled=False, local_output_dir=str(tmp_path / "out")
    )
    backend = backend_for(pipeline)
    backend.write_bytes("a/b.json", b"1")
    assert backend.get_backend_type() == "local"
    assert (tmp_path / "out" / "a" / "b.json").read_bytes() == b"1"


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        (ir.LocalStorage(path="./lake"), "./lake"),
        (ir.S3Storage(bucket="b", prefix="/bronze/", access_key=ir.EnvRef(name="UNSET_KEY")),
         "s3://b/bronze"),
        (ir.AzureStorage(container="c", account_key=ir.EnvRef(name="UNSET_KEY")), "abfs://c"),
        (ir.GcsStorage(bucket="g", prefix="x/y"), "gs://g/x/y"),
        (ir.CustomStorage(backend="pkg.mod:Cls", root="r"), "pkg.mod:Cls:r"),
    ],
)
def test_root_url_is_rendered_without_reading_secrets(storage: ir.Storage, expected: str) -> None:
    assert backend_root_url(storage, ir.RunOptions()) == expected


def test_root_url_of_disabled_storage_is_the_local_output_dir() -> None:
    run = ir.RunOptions(storage_enabled=False, local_output_dir="./out")
    assert backend_root_url(ir.S3Storage(bucket="b"), run) == "./out"


def test_an_unset_secret_names_the_variable_and_the_pipeline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOUNDRY_TEST_UNSET", raising=False)
    storage = ir.S3Storage(bucket="b", access_key=ir.EnvRef(name="FOUNDRY_TEST_UNSET"),
                           secret_key=ir.EnvRef(name="FOUNDRY_TEST_UNSET"))
    with pytest.raises(StorageError) as info:
        backend_for(make_pipeline(storage))
    assert info.value.message == (
        "pipeline shop.orders: cannot open s3://b: environment variable FOUNDRY_TEST_UNSET "
        'is not set (referenced as env("FOUNDRY_TEST_UNSET")); set it and run again'
    )
