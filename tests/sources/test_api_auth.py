"""API source: each auth kind is checked by the server; OAuth2 tokens are renewed."""

from __future__ import annotations

import logging

import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.api import ApiExtractor
from tests.fixtures.api_server import (
    API_KEY,
    BASIC_PASSWORD,
    BEARER_TOKEN,
    CLIENT_SECRET,
    ApiServer,
    context,
    rows,
    run,
    source,
)

PAGED = ir.OffsetPagination(limit=50, total_path="total")


def paged(api: ApiServer, prefix: str, auth: ir.Auth) -> ir.ApiSource:
    return source(api.url, f"{prefix}/offset", records="data", paginate=PAGED, auth=auth)


def oauth2(api: ApiServer) -> ir.OAuth2Auth:
    return ir.OAuth2Auth(token_url=f"{api.url}/oauth/token",
                         client_id=ir.EnvRef(name="OAUTH_CLIENT_ID"),
                         client_secret=ir.EnvRef(name="OAUTH_CLIENT_SECRET"))


def test_without_credentials_the_server_refuses_and_the_error_says_401(
        api: ApiServer) -> None:
    with pytest.raises(ExtractError, match=r"failed \(HTTP 401 Unauthorized\) after 1 attempt;") as e:
        rows(paged(api, "bearer", ir.NoAuth()))
    assert e.value.transient is False


@pytest.mark.usefixtures("auth_env")
def test_bearer_token_from_the_environment(api: ApiServer) -> None:
    assert len(rows(paged(api, "bearer", ir.BearerAuth(token=ir.EnvRef(name="API_TOKEN"))))) == 250
    assert {r.status for r in api.log} == {200}


@pytest.mark.usefixtures("auth_env")
def test_api_key_in_a_header(api: ApiServer) -> None:
    auth = ir.ApiKeyAuth(value=ir.EnvRef(name="API_KEY"))
    assert len(rows(paged(api, "api_key", auth))) == 250
    assert {r.status for r in api.log} == {200}


@pytest.mark.usefixtures("auth_env")
def test_api_key_in_the_query_is_sent_on_every_page_including_link_pages(
        api: ApiServer) -> None:
    auth = ir.ApiKeyAuth(name="api_key", value=ir.EnvRef(name="API_KEY"), location="query")
    src = source(api.url, "api_key_query/github", params={"per_page": 100},
                 paginate=ir.LinkPagination(), auth=auth)
    assert len(rows(src)) == 250
    assert [r.query["api_key"] for r in api.log] == [API_KEY] * 3


@pytest.mark.usefixtures("auth_env")
def test_basic_auth(api: ApiServer) -> None:
    auth = ir.BasicAuth(username=ir.EnvRef(name="API_USER"), password=ir.EnvRef(name="API_PASSWORD"))
    assert len(rows(paged(api, "basic", auth))) == 250
    assert {r.status for r in api.log} == {200}


@pytest.mark.usefixtures("auth_env")
def test_oauth2_fetches_one_token_and_reuses_it(api: ApiServer) -> None:
    assert len(rows(paged(api, "oauth2", oauth2(api)))) == 250
    assert api.token_requests == 1
    assert {r.status for r in api.log} == {200}


@pytest.mark.usefixtures("auth_env")
def test_oauth2_token_is_renewed_before_it_expires_mid_run(api: ApiServer) -> None:
    api.token_ttl = 1  # foundry renews at half the lifetime for very short tokens
    src = source(api.url, "oauth2/github", params={"per_page": 25}, paginate=ir.LinkPagination(),
                 auth=oauth2(api), rate_limit=10)
    assert [r["id"] for r in rows(src)] == list(range(250))
    assert api.token_requests >= 2
    assert [r.status for r in api.requests_to("github")] == [200] * 10


@pytest.mark.usefixtures("auth_env")
def test_oauth2_renews_its_token_on_a_401_and_retries_the_page(api: ApiServer) -> None:
    src = source(api.url, "oauth2/github", params={"per_page": 50}, paginate=ir.LinkPagination(),
                 auth=oauth2(api))
    api.revoke_after = 2  # after two pages the server forgets the token the client trusts
    got = list(ApiExtractor(src).extract(context(src)))
    assert sum(t.num_rows for t in got) == 250
    statuses = [r.status for r in api.requests_to("github")]
    assert statuses.count(401) >= 1 and statuses.count(200) == 5
    assert api.token_requests == 2


@pytest.mark.usefixtures("auth_env")
def test_oauth2_wrong_client_secret_fails_at_the_token_endpoint(
        api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", "not-the-secret")
    with pytest.raises(ExtractError, match=r"POST http://127\.0\.0\.1:\d+/oauth/token failed \(HTTP 401"):
        rows(paged(api, "oauth2", oauth2(api)))


@pytest.mark.usefixtures("auth_env")
def test_secrets_lists_every_resolved_secret_and_issued_token(api: ApiServer) -> None:
    ex = ApiExtractor(paged(api, "oauth2", oauth2(api)))
    run(ex.source, extractor=ex)
    issued = [t for t in ex.secrets() if t.startswith("access-")]
    assert CLIENT_SECRET in ex.secrets() and len(issued) == 1


def test_a_missing_secret_variable_names_it(api: ApiServer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("API_TOKEN", raising=False)
    with pytest.raises(ExtractError, match=r"environment variable API_TOKEN is not set"):
        rows(paged(api, "bearer", ir.BearerAuth(token=ir.EnvRef(name="API_TOKEN"))))


@pytest.mark.usefixtures("auth_env")
def test_no_secret_appears_in_any_log_line_of_a_failing_authenticated_run(
        api: ApiServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api.inject(1.0, kinds=("503",))
    auth = ir.ApiKeyAuth(name="api_key", value=ir.EnvRef(name="API_KEY"), location="query")
    src = source(api.url, "api_key_query/offset", records="data", paginate=PAGED, auth=auth,
                 retry=ir.RetryPolicy(max_attempts=3, backoff=0.01, max_backoff=0.01),
                 headers={"X-Trace": ir.EnvRef(name="API_TOKEN")})
    with pytest.raises(ExtractError) as e:
        rows(src)
    text = caplog.text + str(e.value)
    assert "api_key=%2A%2A%2A" in text or "api_key=***" in text
    assert API_KEY not in text and BEARER_TOKEN not in text


@pytest.mark.usefixtures("auth_env")
def test_secrets_are_known_before_the_first_request(api: ApiServer) -> None:
    auth = ir.BasicAuth(username="loader", password=ir.EnvRef(name="API_PASSWORD"))
    src = paged(api, "basic", auth).model_copy(
        update={"headers": {"X-Trace": ir.EnvRef(name="API_TOKEN")}})
    assert ApiExtractor(src).secrets() == sorted([BASIC_PASSWORD, BEARER_TOKEN])
    assert api.log == []
