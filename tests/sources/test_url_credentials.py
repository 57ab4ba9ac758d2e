"""Credentials inside a URL: sent as basic auth (as curl and requests do), never shown.

``base_url = env("API_URL")`` with ``http://user:password@host`` sends
``Authorization: Basic`` (the server checks it) and keeps the userinfo out of the
request line; every URL foundry shows (retry warnings, errors, the success line)
has its userinfo and secret-looking query params as ``***``.
"""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.api import ApiExtractor
from foundry_dsl.urls import redact_text, redact_url, split_credentials, url_secrets
from tests.fixtures.api_server import (
    BASIC_PASSWORD,
    BASIC_USER,
    BEARER_TOKEN,
    URL_PASSWORD,
    URL_USER,
    ApiServer,
    rows,
    source,
)

ENCODED = quote(URL_PASSWORD, safe="")  # as it must be written in a URL
TOKEN = "tok-8c1f-s3cr3t"
SIGNATURE = "sig-0a9b-s3cr3t"
RETRY = ir.RetryPolicy(max_attempts=3, backoff=0.01, max_backoff=0.02)


def with_userinfo(api: ApiServer, user: str = URL_USER, password: str = ENCODED) -> str:
    return api.url.replace("http://", f"http://{user}:{password}@")


def basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def leaks(text: str) -> list[str]:
    """The secrets of these tests that ``text`` shows, in any form."""
    return [s for s in (URL_PASSWORD, ENCODED, basic(URL_USER, URL_PASSWORD), TOKEN, SIGNATURE,
                        BASIC_PASSWORD) if s in text]


# --- redact_url and friends ------------------------------------------------------------


@pytest.mark.parametrize(("url", "shown"), [
    ("http://apiuser:pw@host:8080/x", "http://***@host:8080/x"),
    ("https://TOKEN@github.com/repos", "https://***@github.com/repos"),
    ("https://h/x?page=2&access_token=abc&limit=5", "https://h/x?page=2&access_token=***&limit=5"),
    ("https://h/x?api_key=1&apikey=2&key=3&token=4&password=5&client_secret=6",
     "https://h/x?api_key=***&apikey=***&key=***&token=***&password=***&client_secret=***"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Credential=AK%2F1&X-Amz-Signature=ff&X-Amz-Expires=60",
     "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Expires=60"),
    ("https://acct.blob.core.windows.net/c?sv=2022&sig=a%2Bb&se=2030",
     "https://acct.blob.core.windows.net/c?sv=2022&sig=***&se=2030"),
    ("https://h/cb#access_token=abc&state=1", "https://h/cb#access_token=***&state=1"),
    ("https://h/x?since=2024-01-01T00%3A00%3A04Z&cursor=abc",
     "https://h/x?since=2024-01-01T00%3A00%3A04Z&cursor=abc"),  # no secrets: as written
    ('env("API_URL")/offset', 'env("API_URL")/offset'),
])
def test_redact_url_masks_userinfo_and_secret_params(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_text_masks_every_url_and_bare_query_in_a_line() -> None:
    line = ('GET http://u:p%40ss@h:1/x?token=abc failed; urllib3: "GET /offset?api_key=xyz&n=3 '
            'HTTP/1.1" 200; see https://TOKEN@git.example/repo')
    assert redact_text(line) == (
        'GET http://***@h:1/x?token=*** failed; urllib3: "GET /offset?api_key=***&n=3 '
        'HTTP/1.1" 200; see https://***@git.example/repo')
    assert redact_text("x?my_param=1", ["my_param"]) == "x?my_param=***"


def test_split_credentials_decodes_the_userinfo() -> None:
    url = f"http://{URL_USER}:{ENCODED}@127.0.0.1:9/whoami?n=1"
    assert split_credentials(url) == ("http://127.0.0.1:9/whoami?n=1", (URL_USER, URL_PASSWORD))
    assert split_credentials("http://127.0.0.1:9/x") == ("http://127.0.0.1:9/x", None)
    assert {URL_PASSWORD, ENCODED, TOKEN} <= set(url_secrets(f"{url}&access_token={TOKEN}"))


# --- against the server ---------------------------------------------------------------


def test_userinfo_in_the_url_is_sent_as_basic_auth_and_never_in_the_request(
        api: ApiServer) -> None:
    assert rows(source(with_userinfo(api), "/whoami", records="data")) == [{"user": URL_USER}]
    [r] = api.log
    assert r.status == 200
    assert r.path == "/whoami"
    assert r.headers["authorization"] == "Basic " + basic(URL_USER, URL_PASSWORD)
    assert "@" not in r.headers["host"]


def test_userinfo_from_the_environment_authenticates_every_page(
        api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_URL", with_userinfo(api, BASIC_USER, BASIC_PASSWORD))
    offset = source(ir.EnvRef(name="API_URL"), "/basic/offset", records="data",
                    paginate=ir.OffsetPagination(limit=100, total_path="total"))
    link = source(ir.EnvRef(name="API_URL"), "/basic/github", params={"per_page": 100},
                  paginate=ir.LinkPagination())  # next pages come from the server's Link
    assert len(rows(offset)) == 250 and len(rows(link)) == 250
    assert [r.status for r in api.log] == [200] * 6


def test_url_credentials_are_not_sent_to_another_host(api: ApiServer) -> None:
    other = api.url.replace("127.0.0.1", "localhost")
    src = source(with_userinfo(api), "/redirect", params={"to": f"{other}/whoami"},
                 records="data")
    with pytest.raises(ExtractError, match=r"HTTP 401"):
        rows(src)
    assert [r.path for r in api.log] == ["/redirect", "/whoami"]
    assert "authorization" in api.log[0].headers
    assert "authorization" not in api.log[1].headers


def test_url_credentials_and_an_auth_block_are_an_error_pointing_to_auth_basic(
        api: ApiServer, auth_env: dict[str, str]) -> None:
    src = source(with_userinfo(api), "/whoami", records="data",
                 auth=ir.BearerAuth(token=ir.EnvRef(name="API_TOKEN")))
    with pytest.raises(ExtractError) as info:
        rows(src)
    message = info.value.message
    assert "carries credentials" in message and "auth bearer block" in message
    assert 'auth basic { username = "...", password = env("...") }' in message
    assert f"http://***@127.0.0.1:{api.url.rsplit(':', 1)[1]}/whoami" in message
    assert leaks(message) == [] and BEARER_TOKEN not in message
    assert api.log == []  # nothing was sent


def test_retry_warnings_errors_and_the_success_line_never_show_url_credentials(
        api: ApiServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    base = with_userinfo(api)
    src = source(base, f"/whoami?access_token={TOKEN}&sig={SIGNATURE}", records="data",
                 retry=RETRY)
    api.inject(0.0, first=2, kinds=("503", "drop"), retry_after="0")
    ex = ApiExtractor(src)
    assert rows(src) == [{"user": URL_USER}]
    assert [r.query.get("access_token") for r in api.log] == [TOKEN] * 3  # sent, not shown
    assert "attempt 1 of 3" in caplog.text and "records in 1 pages from" in caplog.text
    assert f"http://***@127.0.0.1:{api.url.rsplit(':', 1)[1]}/whoami?access_token=***&sig=***" \
        in caplog.text
    api.inject(1.0, kinds=("503",))
    with pytest.raises(ExtractError) as info:
        rows(src)
    assert "access_token=***&sig=***" in info.value.message
    assert {URL_PASSWORD, ENCODED, TOKEN, SIGNATURE} <= set(ex.secrets())
    assert leaks(caplog.text) == [], caplog.text
    assert leaks(info.value.message) == [] and leaks(info.value.render()) == []
