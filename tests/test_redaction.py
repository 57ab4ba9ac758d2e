"""Redaction, the last line of defence, checked on its own: known secret values
(``errors.redact``/``redact_json``), credentials in URLs (``urls``), and the log
filter every handler carries (``cli.logs.RedactFilter``). Earlier layers redact too,
so only tests aimed at each function catch it failing (scripts/mutate redaction)."""

from __future__ import annotations

import logging
import sys

import pytest

from foundry_dsl import urls
from foundry_dsl.cli.logs import RedactFilter
from foundry_dsl.errors import redact, redact_json

# --- known values ---------------------------------------------------------------------------


def test_the_longest_secret_is_masked_first() -> None:
    assert redact("token=abcdef", ["abc", "abcdef"]) == "token=***"


def test_secrets_shorter_than_three_characters_are_not_masked() -> None:
    assert redact("a ab abc", ["a", "ab", "", "abc"]) == "a ab ***"


def test_every_occurrence_is_masked() -> None:
    assert redact("s3cr3t and s3cr3t", ["s3cr3t"]) == "*** and ***"


def test_json_values_and_keys_are_masked_at_any_depth() -> None:
    doc = {"s3cr3t": {"list": ["x-s3cr3t", 5, None, ("s3cr3t",)]}, "n": 1.5, "t": True}
    assert redact_json(doc, iter(["s3cr3t"])) == {
        "***": {"list": ["x-***", 5, None, ["***"]]}, "n": 1.5, "t": True}


def test_a_json_string_alone_is_masked() -> None:
    assert redact_json("pw=s3cr3t", ["s3cr3t"]) == "pw=***"


# --- URLs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["token", "access_token", "Access-Token", "API_KEY", "x-amz-signature", "X-Amz-Credential",
     "my_api_key", "appSecret", "db_password", "sig", "pass", "client%5Fsecret"],
)
def test_secret_parameter_names(name: str) -> None:
    assert urls.is_secret_param(name)


@pytest.mark.parametrize("name", ["page", "limit", "cursor", "keys", "monkey", "passage"])
def test_ordinary_parameter_names(name: str) -> None:
    assert not urls.is_secret_param(name)


def test_extra_parameter_names_are_exact() -> None:
    assert urls.is_secret_param("code", ["code"])
    assert not urls.is_secret_param("Code", ["code"])


def test_a_url_keeps_everything_but_its_userinfo_and_secret_values() -> None:
    url = "https://user:pw@api.test:8443/v1/x?page=2&api_key=abc%2Fd&empty_token=#access_token=t1"
    assert urls.redact_url(url) == (
        "https://***@api.test:8443/v1/x?page=2&api_key=***&empty_token=#access_token=***")


def test_a_url_with_extra_secret_params() -> None:
    assert urls.redact_url("https://h/x?code=42&page=1", ["code"]) == "https://h/x?code=***&page=1"


def test_a_url_without_secrets_is_unchanged_byte_for_byte() -> None:
    url = "https://h/x?q=a%20b&flag&page=1#top"
    assert urls.redact_url(url) == url


def test_a_url_with_a_user_name_only_masks_it() -> None:
    assert urls.redact_url("https://TOKEN@host/x") == "https://***@host/x"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("/v1/x?token=abc&page=2", "/v1/x?token=***&page=2"),
        ("https://[bad/x?token=abc", "https://[bad/x?token=***"),
    ],
)
def test_what_is_no_whole_url_is_masked_as_text(text: str, masked: str) -> None:
    assert urls.redact_url(text) == masked


def test_text_has_every_urls_credentials_masked() -> None:
    text = ('GET https://u:p@a.test/x?token=t1 failed; retried "http://b:c@d@b.test/?pwd=x;sig=y'
            '" and s3://k@bucket/p?x=1&secret=')
    assert urls.redact_text(text) == (
        'GET https://***@a.test/x?token=*** failed; retried "http://***@b.test/?pwd=***;sig=***'
        '" and s3://***@bucket/p?x=1&secret=')


def test_text_with_extra_names() -> None:
    assert urls.redact_text("see ?code=42&page=1", ["code"]) == "see ?code=***&page=1"


def test_an_email_address_in_text_is_no_userinfo() -> None:
    assert urls.redact_text("mail ops@example.com now") == "mail ops@example.com now"


def test_split_credentials_takes_out_the_decoded_user_and_password() -> None:
    assert urls.split_credentials("https://us%40er:p%40ss:w@host:81/x?q=1") == (
        "https://host:81/x?q=1", ("us@er", "p@ss:w"))
    assert urls.split_credentials("https://host/x") == ("https://host/x", None)
    assert urls.split_credentials("https://[bad/x") == ("https://[bad/x", None)


def test_basic_header_is_rfc_7617() -> None:
    assert urls.basic_header("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="


def test_url_secrets_lists_the_password_its_encodings_and_secret_params() -> None:
    assert urls.url_secrets("https://u:p%40ss@h/x?api_key=a+b%21&page=2#token=t") == [
        "p%40ss", "p@ss", urls.basic_header("u", "p@ss").removeprefix("Basic "),
        "a+b%21", "a b!", "t"]


def test_url_secrets_without_a_password_is_the_user_name() -> None:
    assert urls.url_secrets("https://TOKEN@h/") == ["TOKEN", "VE9LRU46"]


def test_url_secrets_of_a_plain_url_are_none() -> None:
    assert urls.url_secrets("https://h/x?page=2&token=") == []
    assert urls.url_secrets("https://[bad/") == []


def test_url_secrets_with_extra_names() -> None:
    assert urls.url_secrets("https://h/x?code=42", ["code"]) == ["42"]


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("HTTPS://API.Test/x", ("https", "api.test", 443)),
        ("http://h/x", ("http", "h", 80)),
        ("http://h:8080", ("http", "h", 8080)),
        ("s3://bucket/x", ("s3", "bucket", None)),
        ("http://h:99999/", None),
    ],
)
def test_origin_makes_the_default_port_explicit(
        url: str, found: tuple[str, str, int | None] | None) -> None:
    assert urls.origin(url) == found


@pytest.mark.parametrize(
    ("base", "endpoint", "joined"),
    [
        ("https://h/v1/", "/items", "https://h/v1/items"),
        ("https://h/v1", "items", "https://h/v1/items"),
        ("https://h/v1", "", "https://h/v1"),
        ("https://h/v1", "https://other/x", "https://other/x"),
    ],
)
def test_join_puts_one_slash_between(base: str, endpoint: str, joined: str) -> None:
    assert urls.join(base, endpoint) == joined


# --- the log filter ----------------------------------------------------------------------------


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("foundry", logging.ERROR, __file__, 1, msg, args or None, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_the_filter_masks_the_message_with_its_arguments_and_lets_it_through() -> None:
    rec = record("GET %s with %s", "https://u:pw@h/x", "key s3cr3t")
    assert RedactFilter(["s3cr3t"]).filter(rec) is True
    assert (rec.msg, rec.args) == ("GET https://***@h/x with key ***", None)


def test_the_filter_masks_urls_without_known_secrets() -> None:
    rec = record("GET https://h/x?token=abc")
    RedactFilter().filter(rec)
    assert rec.getMessage() == "GET https://h/x?token=***"


def test_the_filter_masks_the_traceback_it_formats() -> None:
    try:
        raise RuntimeError("connect to https://u:s3cr3t@db failed")
    except RuntimeError:
        rec = logging.LogRecord("foundry", logging.ERROR, __file__, 1, "boom", None,
                                sys.exc_info())
    RedactFilter(["s3cr3t"]).filter(rec)
    assert rec.exc_text is not None
    assert rec.exc_text.endswith("RuntimeError: connect to https://***@db failed")
    assert "s3cr3t" not in logging.Formatter().format(rec)


def test_the_filter_masks_a_traceback_already_formatted_and_the_stack() -> None:
    rec = record("boom")
    rec.exc_text = "Traceback: s3cr3t"
    rec.stack_info = "Stack: s3cr3t"
    RedactFilter(["s3cr3t"]).filter(rec)
    assert (rec.exc_text, rec.stack_info) == ("Traceback: ***", "Stack: ***")


def test_the_filter_masks_every_text_field_of_a_json_line() -> None:
    rec = record("landed", pipeline="shop.s3cr3t", file="https://u:p@h/f", event="commit",
                 task="s3cr3t", status="ok s3cr3t", rows=5)
    RedactFilter(["s3cr3t"]).filter(rec)
    assert [rec.pipeline, rec.file, rec.event, rec.task, rec.status, rec.rows] == [  # type: ignore[attr-defined]
        "shop.***", "https://***@h/f", "commit", "***", "ok ***", 5]


def test_a_handler_with_the_filter_writes_no_secret() -> None:
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            seen.append(self.format(rec))

    handler = Keep()
    handler.addFilter(RedactFilter(["s3cr3t"]))
    log = logging.getLogger("foundry.test_redaction")
    log.addHandler(handler)
    try:
        log.warning("password %s", "s3cr3t")
    finally:
        log.removeHandler(handler)
    assert seen == ["password ***"]


# --- more edges the mutants showed ----------------------------------------------------------


def test_a_longer_secret_holding_a_shorter_one_is_masked_whole() -> None:
    # by length, not by text: "bcd" sorts after "abcde" but must go second
    assert redact("token=abcde", ["bcd", "abcde"]) == "token=***"


def test_a_password_holding_an_at_sign_is_masked_whole() -> None:
    url = "https://u:p@ss@host/x"
    assert urls.redact_url(url) == "https://***@host/x"
    assert urls.split_credentials(url) == ("https://host/x", ("u", "p@ss"))
    assert urls.url_secrets(url) == ["p@ss", urls.basic_header("u", "p@ss").removeprefix("Basic ")]


def test_a_secret_value_holding_an_equals_sign_is_masked_whole() -> None:
    assert urls.redact_url("https://h/x?token=a=b&page=2") == "https://h/x?token=***&page=2"
    assert urls.url_secrets("https://h/?token=a=b") == ["a=b"]


def test_a_scheme_relative_url_has_its_userinfo_masked() -> None:
    assert urls.redact_url("//user:pw@host/x?token=t") == "//***@host/x?token=***"


def test_extra_names_count_in_what_is_masked_as_text() -> None:
    assert urls.redact_url("/x?code=42", ["code"]) == "/x?code=***"
    assert urls.redact_url("https://[bad/x?code=42", ["code"]) == "https://[bad/x?code=***"


def test_an_empty_password_leaves_the_user_name_as_the_secret() -> None:
    assert urls.url_secrets("https://user:@h/") == ["user", "dXNlcjo="]


def test_origin_of_a_url_without_a_host() -> None:
    assert urls.origin("file:///tmp/x") == ("file", "", None)


def test_join_keeps_capital_letters_at_the_seam() -> None:
    assert urls.join("https://h/vX", "Xy") == "https://h/vX/Xy"
