"""Database errors name the pipeline, quote the driver, redact secrets, say what to do next."""

from __future__ import annotations

import re

import pytest

from foundry_dsl.errors import ExtractError
from tests.fixtures.databases import PG_PASSWORD
from tests.sources.db_helpers import pipeline, run


def _stable(text: str) -> str:
    return re.sub(r"Port=\d+|port \d+", "Port=<port>", text)


def test_bad_query_error(pg_env, snapshot) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExtractError) as err:
        run(pipeline(pg_env, "SELECT * FROM no_such_table"))
    assert PG_PASSWORD not in str(err.value)
    assert err.value.transient is False
    assert _stable(err.value.render()) == snapshot


def test_bad_password_error(postgres, monkeypatch, snapshot) -> None:  # type: ignore[no-untyped-def]
    wrong = postgres.conn_str(PWD="{wrong-s3cret-pw}")
    monkeypatch.setenv("FOUNDRY_TEST_PG", wrong)
    with pytest.raises(ExtractError) as err:
        run(pipeline("FOUNDRY_TEST_PG", "SELECT 1"))
    assert "wrong-s3cret-pw" not in str(err.value)
    assert err.value.transient is False  # a refused password is refused again
    assert _stable(err.value.render()) == snapshot


def test_secrets_are_the_connection_string_and_its_password(pg_env) -> None:  # type: ignore[no-untyped-def]
    from foundry_dsl.sources.db import DbExtractor

    ex = DbExtractor(pipeline(pg_env, "SELECT 1").source)  # type: ignore[arg-type]
    assert PG_PASSWORD in ex.secrets()
