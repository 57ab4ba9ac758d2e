"""Credentials read from env never show in errors, reprs, logs or committed metadata."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import FoundryError
from foundry_dsl.storage.fsspec_backend import FsspecBackend
from foundry_dsl.storage.registry import backend_for
from foundry_dsl.storage.retry import Backoff
from tests.fixtures.storage_services import (
    AZURITE_KEY,
    ENV_S3_KEY,
    ENV_S3_SECRET,
    S3_KEY,
    S3_SECRET,
    Service,
    free_port,
    make_pipeline,
)

ENV_DEAD_ENDPOINT = "FOUNDRY_TEST_DEAD_ENDPOINT"
ENV_DEAD_AZURE = "FOUNDRY_TEST_DEAD_AZURE"


def _fail(backend: FsspecBackend, tmp_path: Path) -> FoundryError:
    backend.backoff = Backoff(attempts=2, base=0.01)
    src = tmp_path / "part-0001.parquet"
    src.write_bytes(b"x")
    with pytest.raises(FoundryError) as info:
        backend.upload_file(str(src), "a/part-0001.parquet")
    return info.value


def test_s3_credentials_stay_out_of_errors_repr_and_logs(
    moto_s3: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv(ENV_DEAD_ENDPOINT, f"http://127.0.0.1:{free_port()}")
    storage = ir.S3Storage(
        bucket="foundry", endpoint=ir.EnvRef(name=ENV_DEAD_ENDPOINT),
        access_key=ir.EnvRef(name=ENV_S3_KEY), secret_key=ir.EnvRef(name=ENV_S3_SECRET),
    )
    backend = backend_for(make_pipeline(storage))
    assert isinstance(backend, FsspecBackend)
    caplog.set_level(logging.DEBUG, logger="foundry")
    error = _fail(backend, tmp_path)
    assert error.transient is True
    shown = [error.message, error.render(), str(error), repr(backend), caplog.text]
    assert "retrying s3 upload s3://foundry/a/part-0001.parquet" in caplog.text
    for text in shown:
        assert S3_KEY not in text
        assert S3_SECRET not in text


def test_an_azure_account_key_stays_out_of_errors_and_repr(
    azurite: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = (f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;")
    monkeypatch.setenv(ENV_DEAD_AZURE, conn)
    storage = ir.AzureStorage(container="foundry", connection_string=ir.EnvRef(name=ENV_DEAD_AZURE))
    backend = backend_for(make_pipeline(storage))
    assert isinstance(backend, FsspecBackend)
    error = _fail(backend, tmp_path)
    for text in (error.message, repr(backend)):
        assert AZURITE_KEY not in text
        assert conn not in text


def test_secrets_stay_out_of_everything_a_real_run_commits(
    moto_s3: Service, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The metadata, state and lease a run really writes, with a source that tries to leak."""
    from foundry_dsl import ir
    from tests.executor.helpers import apply, custom_pipeline, only

    token = "tok-Secret-4417-zz"
    monkeypatch.setenv("FOUNDRY_TEST_SOURCE_TOKEN", token)
    p = custom_pipeline(tmp_path, """
from foundry_dsl.sources.base import Extractor, NewCursor
class Source(Extractor):
    def extract(self, ctx, part=0):
        token = ctx.pipeline.source.params["token"].resolve()
        self.report["called_with"] = "Bearer " + token  # a careless report
        yield [{"id": 1}]
        yield NewCursor("1")
""", table="leaky", params={"token": ir.EnvRef(name="FOUNDRY_TEST_SOURCE_TOKEN")})
    p = p.model_copy(update={"platform": p.platform.model_copy(
        update={"storage": moto_s3.storage(prefix)})})
    assert only(apply(p)).status == "succeeded"
    backend = backend_for(make_pipeline(moto_s3.storage(prefix)))
    written = {path: backend.read_bytes(path) or b"" for path in backend.list_files("")}
    meta = written["system=s/table=leaky/dt=2025-01-12/_metadata.json"]
    assert b"Bearer ***" in meta  # the report landed, redacted
    assert "_state/system=s/table=leaky.json" in written
    for path, data in written.items():
        for secret in (token, S3_KEY, S3_SECRET):
            assert secret.encode() not in data, path
