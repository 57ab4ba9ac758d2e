"""Credentials read from env never show in errors, reprs, logs or committed metadata."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from urllib.parse import quote

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import FoundryError, Position
from foundry_dsl.storage.fsspec_backend import FsspecBackend
from foundry_dsl.storage.registry import backend_for
from foundry_dsl.storage.retry import Backoff
from tests.fixtures.api_server import (
    BASIC_PASSWORD,
    BASIC_USER,
    URL_PASSWORD,
    URL_USER,
    ApiServer,
)
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


# --- URL credentials, empty variables and the log's last line of defence -----------------

URL_TOKEN = "tok-url-5e1f-zz"
URL_SIG = "sig-url-77aa-zz"


def _pipelines(folder: Path) -> None:
    """Two API pipelines whose URLs come from the environment with credentials inside:
    userinfo needing percent-encoding and query tokens, and one incremental (state)."""
    (folder / "pipeline.bronze").write_text("""platform lake {
  storage local {
    path = "out"
  }
  partition = date
  formats = [parquet, csv]
}

pipeline fake.whoami {
  platform = lake
  source api {
    base_url = env("FOUNDRY_TEST_API_URL")
    records = "data"
    timeout = 5
    retry {
      max_attempts = 3
      backoff = 0.01
      max_backoff = 0.02
    }
  }
}

pipeline fake.changes {
  platform = lake
  source api {
    base_url = env("FOUNDRY_TEST_API_BASE")
    endpoint = "/basic/changes"
    records = "data"
    paginate offset {
      limit = 2
      total_path = "total"
    }
    incremental {
      field = "updated_at"
      param = "since"
    }
    retry {
      max_attempts = 3
      backoff = 0.01
      max_backoff = 0.02
    }
  }
}
""")


def test_url_credentials_never_show_in_output_or_anything_apply_writes(
        tmp_path: Path, api: ApiServer) -> None:
    from tests.e2e.helpers import foundry

    encoded = quote(URL_PASSWORD, safe="")
    host = api.url.removeprefix("http://")
    env = {
        "FOUNDRY_TEST_API_URL":
            f"http://{URL_USER}:{encoded}@{host}/whoami?access_token={URL_TOKEN}&sig={URL_SIG}",
        "FOUNDRY_TEST_API_BASE": f"http://{BASIC_USER}:{BASIC_PASSWORD}@{host}",
    }
    api.changes = [{"id": i, "updated_at": f"2024-01-01T00:00:0{i}Z"} for i in range(5)]
    _pipelines(tmp_path)
    runs = [("plan", "pipeline.bronze"), ("plan", "pipeline.bronze", "--json")]
    runs += [("apply", "pipeline.bronze", "--date", "2024-01-01", "--log-format", "json"),
             ("apply", "pipeline.bronze", "--date", "2024-01-02"),
             ("--debug", "apply", "pipeline.bronze", "--date", "2024-01-03")]
    outputs = []
    for i, args in enumerate(runs):
        api.inject(0.0, first=2, kinds=("503", "drop"), retry_after="0")  # retry warnings
        if i == len(runs) - 1:
            api.inject(1.0, kinds=("503",))  # and a failed run: the error names the URL
        out = foundry(tmp_path, *args, env=env)
        outputs.append(out.stdout + out.stderr)
        assert out.returncode == (1 if i == len(runs) - 1 else 0), outputs[-1]
    # the servers checked the credentials; the runs showed where they went, masked
    assert {r.status for r in api.requests_to("whoami")} >= {200}
    assert "/basic/changes" in " ".join(r.path for r in api.log)
    written = {p: p.read_bytes() for p in tmp_path.rglob("*")
               if p.is_file() and p.name != "pipeline.bronze"}
    assert any(p.name == "_metadata.json" for p in written)
    assert any("_state" in str(p) for p in written)
    secrets = [URL_PASSWORD, encoded, URL_TOKEN, URL_SIG, BASIC_PASSWORD,
               base64.b64encode(f"{URL_USER}:{URL_PASSWORD}".encode()).decode()]
    for secret in secrets:
        assert [runs[i] for i, text in enumerate(outputs) if secret in text] == [], secret
        assert [p for p, data in written.items() if secret.encode() in data] == [], secret
    # ...and the logs said where the requests went, credentials masked
    shown = "\n".join(outputs)
    assert f"http://***@{host}/whoami?access_token=***&sig=***" in shown
    assert "attempt 1 of 3" in shown and "failed (HTTP 503" in shown


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_secret_variable_is_an_error_naming_it_before_any_request(
        api: ApiServer, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from foundry_dsl.errors import ExtractError
    from foundry_dsl.sources.api import ApiExtractor
    from tests.fixtures.api_server import rows, source

    monkeypatch.setenv("CRM_TOKEN", value)
    where = Position("crm.bronze", 7, 13)
    src = source(api.url, "/bearer/single", records="data",
                 auth=ir.BearerAuth(token=ir.EnvRef(name="CRM_TOKEN", span=where)))
    assert ApiExtractor(src).secrets() == []  # listing secrets is no place to fail
    assert ir.EnvRef(name="CRM_TOKEN").resolve(required=False) is None
    with pytest.raises(ExtractError) as info:
        rows(src)
    assert info.value.message.startswith("environment variable CRM_TOKEN is set ")
    assert 'referenced as env("CRM_TOKEN") at crm.bronze:7:13' in info.value.message
    assert api.log == []  # not an HTTP 401 later: nothing was sent


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_log_redact_filter_alone_masks_what_reaches_the_log(
        log_format: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A secret logged straight through a foundry logger, with no redaction before it:
    only the handler's RedactFilter stands between it and the log."""
    from foundry_dsl.cli.logs import LOGGER, setup_logging

    secret = "s3cr3t-only-the-filter-knows"
    logger = logging.getLogger(LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        setup_logging(log_format, {secret})
        log = logging.getLogger(f"{LOGGER}.test")
        encoded = quote(URL_PASSWORD, safe="")
        log.warning("token %s, url %s", secret, f"http://{URL_USER}:{encoded}@h/x?sig={URL_SIG}")
        log.info("done", extra={"pipeline": "fake.items", "file": f"s3://b/{secret}/part-1"})
        try:
            raise RuntimeError(f"refused {secret}")
        except RuntimeError:
            log.exception("failed with https://%s@host/y", URL_TOKEN)
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    if log_format == "json":
        docs = [json.loads(line) for line in lines if line.startswith("{")]
        assert [d["message"] for d in docs] == [
            "token ***, url http://***@h/x?sig=***", "done", "failed with https://***@host/y"]
        assert docs[1]["file"] == "s3://b/***/part-1"
    else:
        assert "token ***, url http://***@h/x?sig=***" in err
        assert "RuntimeError: refused ***" in err  # the traceback too
    for leaked in (secret, quote(URL_PASSWORD, safe=""), URL_SIG, URL_TOKEN):
        assert leaked not in err


def test_a_custom_sources_own_secrets_are_redacted_from_what_it_commits(tmp_path: Path) -> None:
    """A secret the extractor holds itself (not a param) reaches redaction through secrets()."""
    from tests.executor.helpers import apply, custom_pipeline, only

    token = "own-Secret-9931-qq"
    p = custom_pipeline(tmp_path, f"""
from foundry_dsl.sources.base import Extractor, NewCursor
class Source(Extractor):
    token = {token!r}  # read from a vault, say: foundry never saw it as a param
    def secrets(self):
        return [self.token]
    def extract(self, ctx, part=0):
        self.report["called_with"] = "Bearer " + self.token
        yield [{{"id": 1}}]
        yield NewCursor("1")
""", table="vaulted")
    assert only(apply(p)).status == "succeeded"
    metas = list(tmp_path.rglob("_metadata.json"))
    assert len(metas) == 1
    meta = metas[0].read_bytes()
    assert b"Bearer ***" in meta
    assert token.encode() not in meta


def test_a_custom_source_whose_secrets_fails_still_runs(tmp_path: Path) -> None:
    from tests.executor.helpers import apply, custom_pipeline, only

    p = custom_pipeline(tmp_path, """
from foundry_dsl.sources.base import Extractor, NewCursor
class Source(Extractor):
    def secrets(self):
        raise RuntimeError("vault unreachable")
    def extract(self, ctx, part=0):
        yield [{"id": 1}]
        yield NewCursor("1")
""", table="novault")
    assert only(apply(p)).status == "succeeded"
