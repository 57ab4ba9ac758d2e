"""Secrets written in a pipeline file: refused at compile time, never printed back.

A secret in a URL (``https://user:pw@host``, ``?access_token=...``) is refused
like a literal ``token = "..."``; the error's quoted line shows ``***`` where the
secret was (the Diagnostic carries the secret's span, the renderer masks it).
Which names hold a secret is one table, in both front ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from foundry_dsl.errors import ConfigError, Diagnostic, Position
from foundry_dsl.frontends.load import load
from tests.e2e.helpers import foundry

PLATFORM = 'platform dev {\n  storage local {\n    path = "./out"\n  }\n}\n\n'


def bronze(source: str) -> str:
    """``main.bronze``: platform dev and pipeline shop.orders with ``source``."""
    return f"{PLATFORM}pipeline shop.orders {{\n  platform = dev\n{source}}}\n"


def api(body: str) -> str:
    return bronze(f'  source api {{\n    base_url = "https://api.example.com"\n{body}  }}\n')


def yaml(api_lines: str, source_type: str = "api") -> str:
    """``cfg.yaml``: a local platform and source ``shop.orders`` with ``api_lines``."""
    return (
        "platform:\n  bronze:\n    storage_backend: local\n    local_path: ./out\n\n"
        f"source:\n  type: {source_type}\n  system: shop\n  table: orders\n{api_lines}"
    )


@dataclass(frozen=True)
class Case:
    files: dict[str, str]  # file name -> text; the first is the one validated
    secrets: tuple[str, ...]  # must appear nowhere in what foundry prints


CASES: dict[str, Case] = {
    "password_in_base_url": Case(
        {"main.bronze": bronze('  source api {\n    base_url = "https://me:hunter2@api.example.com"\n  }\n')},
        ("hunter2",),
    ),
    "access_token_in_endpoint": Case(
        {"main.bronze": api('    endpoint = "/v1/items?access_token=tok-4f9a2c"\n')},
        ("tok-4f9a2c",),
    ),
    "two_secret_parameters_in_one_url": Case(
        {"main.bronze": api('    endpoint = "/v1/items?api_key=k-1234&page=2&sig=s-5678"\n')},
        ("k-1234", "s-5678"),
    ),
    "access_token_in_url_fragment": Case(
        {"main.bronze": bronze(
            '  source api {\n    base_url = "https://api.example.com/cb#access_token=tok-4f9a2c"\n  }\n'
        )},
        ("tok-4f9a2c",),
    ),
    "percent_encoded_parameter_name": Case(
        {"main.bronze": api('    endpoint = "/v1/items?access%5Ftoken=tok-4f9a2c"\n')},
        ("tok-4f9a2c",),
    ),
    "password_in_a_url_in_params": Case(
        {"main.bronze": api(
            '    params {\n      callback = "https://me:hunter2@hooks.example.com/x"\n    }\n'
        )},
        ("hunter2",),
    ),
    "secret_parameter_in_a_url_in_headers": Case(
        {"main.bronze": api(
            '    headers {\n      Referer = "https://example.com/?token=tok-4f9a2c"\n    }\n'
        )},
        ("tok-4f9a2c",),
    ),
    "key_in_api_params": Case(
        {"main.bronze": api('    params {\n      key = "AIzaSy-4f9a2c"\n    }\n')},
        ("AIzaSy-4f9a2c",),
    ),
    "number_under_a_secret_name": Case(
        {"main.bronze": api("    params {\n      password = 914127\n    }\n")},
        ("914127",),
    ),
    "password_in_files_path": Case(
        {"main.bronze": bronze(
            '  source files {\n    paths = ["https://me:hunter2@files.example.com/a.csv"]\n  }\n'
        )},
        ("hunter2",),
    ),
    "presigned_url_in_files_path": Case(
        {"main.bronze": bronze(
            '  source files {\n    paths = ["s3://bucket/a.csv?X-Amz-Credential=AKID'
            '&X-Amz-Signature=f00dcafe"]\n  }\n'
        )},
        ("f00dcafe",),
    ),
    "password_in_connection_string_option": Case(
        {"main.bronze": bronze(
            '  source files {\n    paths = ["a.csv"]\n'
            '    options {\n      conn = "DSN=pg;UID=me;PWD=hunter2"\n    }\n  }\n'
        )},
        ("hunter2",),
    ),
    "db_connection_url_written_literally": Case(
        {"main.bronze": bronze(
            '  source db {\n    connection = "postgresql://etl:hunter2@db.example.com/shop"\n'
            '    query = "SELECT 1"\n  }\n'
        )},
        ("hunter2", "etl"),
    ),
    "escaped_string_hides_the_whole_literal": Case(
        {"main.bronze": api('    endpoint = "/v1/items?token=tok\\u002d4f9a2c"\n')},
        ("4f9a2c",),
    ),
    "yaml_password_in_base_url": Case(
        {"cfg.yaml": yaml("  api:\n    base_url: https://me:hunter2@api.example.com\n")},
        ("hunter2",),
    ),
    "yaml_access_token_in_endpoint": Case(
        {"cfg.yaml": yaml(
            '  api:\n    base_url: "https://api.example.com"\n'
            '    endpoint: "/v1/items?apiKey=k-1234"\n'
        )},
        ("k-1234",),
    ),
    "yaml_password_in_a_url_in_params": Case(
        {"cfg.yaml": yaml(
            '  api:\n    base_url: "https://api.example.com"\n    params:\n'
            "      callback: 'https://me:hunter2@hooks.example.com/x'\n"
        )},
        ("hunter2",),
    ),
    "yaml_password_in_files_path": Case(
        {"cfg.yaml": yaml(
            '  files:\n    paths: "https://me:hunter2@files.example.com/a.csv"\n', "files"
        )},
        ("hunter2",),
    ),
}


def write(folder: Path, files: dict[str, str]) -> str:
    for name, text in files.items():
        (folder / name).write_text(text)
    return next(iter(files))


def compile_error(folder: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]) -> ConfigError:
    main = write(folder, files)
    monkeypatch.chdir(folder)
    with pytest.raises(ConfigError) as info:
        load([main])
    return info.value


@pytest.mark.parametrize("case", sorted(CASES))
def test_error_text_masks_the_secret(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snapshot
) -> None:
    assert compile_error(tmp_path, monkeypatch, CASES[case].files).render() == snapshot


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_refuses_without_printing_the_secret(case: str, tmp_path: Path) -> None:
    main = write(tmp_path, CASES[case].files)
    result = foundry(tmp_path, "validate", main)
    assert result.returncode == 1
    assert re.search(rf"^{re.escape(main)}:\d+:\d+: error: ", result.stderr, re.MULTILINE)
    assert "Traceback" not in result.stderr
    for secret in CASES[case].secrets:
        assert secret not in result.stderr
        assert secret not in result.stdout


def test_the_diagnostic_carries_the_span_of_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = compile_error(tmp_path, monkeypatch, CASES["password_in_base_url"].files)
    (d,) = error.diagnostics
    # line 10: `    base_url = "https://me:hunter2@api.example.com"`, hunter2 at columns 28-34
    assert d.secret_spans == (Position("main.bronze", 10, 28, 10, 35),)
    assert d.position == Position("main.bronze", 10, 28, 10, 35)


# --- which names hold a secret ----------------------------------------------------------

SECRET_NAMES = (
    "token", "access_token", "api_token", "auth_token", "refresh_token", "id_token",
    "session_token", "secret", "client_secret", "password", "passwd", "db_password",
    "api_key", "apikey", "x_api_key", "private_key", "secret_key", "subscription_key",
    "authorization", "proxy_authorization", "cookie", "set_cookie", "session_id",
    "key", "sig", "signature", "x_amz_signature", "x_amz_security_token",
)  # fmt: skip
PAGINATION_NAMES = (
    "page_token", "next_token", "next_page_token", "prev_token", "pagination_token",
    "continuation_token", "sync_token", "resume_token", "cursor", "next_cursor",
    "after", "page", "per_page", "token_url", "max_tokens", "signature_method",
)  # fmt: skip
EXTRA_SPELLINGS = {  # how servers write some of them
    "X-API-Key": True, "Ocp-Apim-Subscription-Key": True, "JSESSIONID": True,
    "X-Amz-Signature": True, "AccessToken": True,
    "NextToken": False, "ContinuationToken": False, "$skiptoken": False, "$deltatoken": False,
}  # fmt: skip


def spellings(snake: str) -> list[str]:
    """snake_case, camelCase and kebab-case of one name."""
    first, *rest = snake.split("_")
    return list(dict.fromkeys([snake, first + "".join(w.title() for w in rest), snake.replace("_", "-")]))


NAME_TABLE = sorted(
    (
        {n: True for s in SECRET_NAMES for n in spellings(s)}
        | {n: False for s in PAGINATION_NAMES for n in spellings(s)}
        | EXTRA_SPELLINGS
    ).items()
)


@pytest.mark.parametrize("front_end", ["bronze", "yaml"])
@pytest.mark.parametrize(("name", "is_secret"), NAME_TABLE)
def test_a_param_name_holds_a_secret_or_not(
    front_end: str, name: str, is_secret: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if front_end == "bronze":
        files = {"main.bronze": api(f'    params {{\n      "{name}" = "v-4f9a2c"\n    }}\n')}
        message = f"'{name}' holds a secret written in the file"
    else:
        files = {"cfg.yaml": yaml(
            f'  api:\n    base_url: "https://api.example.com"\n    params:\n      "{name}": "v-4f9a2c"\n'
        )}
        message = f"'{name}' in source.api.params holds a secret written in the file"
    main = write(tmp_path, files)
    monkeypatch.chdir(tmp_path)
    if is_secret:
        with pytest.raises(ConfigError) as info:
            load([main])
        assert [d.message for d in info.value.diagnostics] == [message]
    else:
        (pipeline,) = load([main]).pipelines
        assert pipeline.source.params == {name: "v-4f9a2c"}  # type: ignore[union-attr]


def test_key_is_a_secret_only_among_query_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"main.bronze": bronze(
        '  source custom {\n    module = "shop.extract"\n    class_name = "Orders"\n'
        '    params {\n      key = "order_id"\n    }\n  }\n'
    )})
    monkeypatch.chdir(tmp_path)
    (pipeline,) = load(["main.bronze"]).pipelines
    assert pipeline.source.params == {"key": "order_id"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "source",
    [
        '  source api {\n    base_url = "https://api.example.com:8443/v1"\n  }\n',
        '  source api {\n    base_url = "https://someone@api.example.com"\n  }\n',
        '  source api {\n    base_url = "https://api.example.com"\n'
        '    endpoint = "/items?page_token=abc&per_page=10&q=token"\n  }\n',
        '  source files {\n    paths = ["s3://bucket/a.csv?versionId=3", "abfs://c@acct.dfs.core.windows.net/x"]\n  }\n',
        '  source db {\n    connection = env("DSN")\n'
        "    query = \"SELECT * FROM t WHERE token = 'x' AND a = ?\"\n  }\n",
    ],
    ids=["port", "user_without_password", "pagination_params", "fsspec_urls", "sql_query"],
)
def test_a_url_without_secrets_compiles(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"main.bronze": bronze(source)})
    monkeypatch.chdir(tmp_path)
    assert len(load(["main.bronze"]).pipelines) == 1


# --- rendering: the snippet shows *** where a secret was --------------------------------

LINE = '    url = "https://me:hunter2@h/x", timeout = "x"\n'
SECRET = Position("f.bronze", 1, 23, 1, 30)  # hunter2


def test_the_caret_under_a_masked_secret_covers_the_mask() -> None:
    d = Diagnostic("no", SECRET, secret_spans=(SECRET,))
    assert d.render(LINE) == (
        "f.bronze:1:23: error: no\n"
        "  |\n"
        '1 |     url = "https://me:***@h/x", timeout = "x"\n'
        "  |                       ^^^"
    )


def test_the_caret_after_a_masked_secret_stays_under_its_value() -> None:
    d = Diagnostic("bad timeout", Position("f.bronze", 1, 47, 1, 50), secret_spans=(SECRET,))
    assert d.render(LINE).splitlines()[2:] == [
        '1 |     url = "https://me:***@h/x", timeout = "x"',
        "  |                                           ^^^",
    ]


def test_a_caret_over_the_whole_literal_shrinks_with_the_mask() -> None:
    d = Diagnostic("no", Position("f.bronze", 1, 11, 1, 35), secret_spans=(SECRET,))
    assert d.render(LINE).splitlines()[2:] == [
        '1 |     url = "https://me:***@h/x", timeout = "x"',
        "  |           ^^^^^^^^^^^^^^^^^^^^",  # under "https://me:***@h/x"
    ]


def test_another_error_on_the_line_of_a_secret_does_not_print_it() -> None:
    secret = Diagnostic("secret", SECRET, secret_spans=(SECRET,))
    other = Diagnostic("bad timeout", Position("f.bronze", 1, 47, 1, 50))
    text = ConfigError([secret, other], {"f.bronze": LINE}).render()
    assert "hunter2" not in text
    assert text.count('1 |     url = "https://me:***@h/x", timeout = "x"') == 2


def test_a_secret_in_another_file_masks_nothing() -> None:
    d = Diagnostic("no", SECRET, secret_spans=(Position("g.bronze", 1, 23, 1, 30),))
    assert "hunter2" in d.render(LINE)


def test_a_secret_over_several_lines_is_masked_to_the_end_of_the_line() -> None:
    text = '    token = """\n      abc\n      """\n'
    span = Position("f.bronze", 1, 13, 3, 10)
    d = Diagnostic("no", span, secret_spans=(span,))
    assert d.render(text).splitlines()[2:] == ["1 |     token = ***", "  |             ^^^"]
