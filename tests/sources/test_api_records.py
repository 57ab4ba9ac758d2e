"""API source: finding records in a body, keeping nested JSON, and clear errors for bad bodies."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError
from foundry_dsl.sources.http.records import compile_path
from tests.fixtures.api_server import (
    ApiServer,
    record,
    rows,
    run,
    source,
    typed_record,
)


def scrub(message: str) -> str:
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", message)


@pytest.mark.parametrize("path", ["data", "$.data", "$.data[*]", "$['data']", "$.data[*]"])
def test_records_path_spellings_find_the_same_records(api: ApiServer, path: str) -> None:
    assert rows(source(api.url, "single", records=path, params={"n": 3})) == [
        typed_record(0), typed_record(1), typed_record(2)]


@pytest.mark.parametrize("path", [None, "$"])
def test_no_path_or_dollar_means_a_top_level_list(api: ApiServer, path: str | None) -> None:
    src = source(api.url, "github", records=path, params={"n": 3})
    assert rows(src) == [typed_record(0), typed_record(1), typed_record(2)]


def test_compile_path_reads_dotted_and_jsonpath_forms() -> None:
    assert compile_path("data.items") == ("data", "items")
    assert compile_path("$.pages[0].rows[*]") == ("pages", 0, "rows")
    assert compile_path("$['odd.key'].x") == ("odd.key", "x")
    assert compile_path("$") == ()


def test_nested_objects_become_structs_and_lists_stay_lists(api: ApiServer) -> None:
    (table,), _ = run(source(api.url, "single", records="data", params={"n": 5}))
    assert table.schema.field("owner").type == pa.struct(
        [("login", pa.string()), ("team", pa.struct([("id", pa.int64())]))])
    assert table.schema.field("tags").type == pa.list_(pa.string())
    assert table.column("owner").to_pylist()[4] == {"login": "user4", "team": {"id": 0}}
    assert table.column("tags").to_pylist()[:3] == [[], ["t0"], ["t0", "t1"]]


def test_a_field_whose_type_changes_keeps_every_value(api: ApiServer) -> None:
    src = source(api.url, "conflict", records="data",
                 paginate=ir.PagePagination(size_param=None, page_size=None))
    first, second = run(src)[0]
    assert first.column("code").type == pa.int64()
    assert first.column("code").to_pylist() == [7, 8]
    # the page mixing a string and an int is widened to text: no value is lost
    assert second.column("code").to_pylist() == ["X9", "10"]


def test_invalid_json_names_the_url_and_shows_the_first_bytes(api: ApiServer, snapshot) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExtractError) as e:
        rows(source(api.url, "bad_json", records="data"))
    assert scrub(str(e.value)) == snapshot


def test_a_records_path_that_does_not_resolve_names_the_keys(api: ApiServer, snapshot) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExtractError) as e:
        rows(source(api.url, "single", records="data.items", params={"n": 1}))
    assert scrub(str(e.value)) == snapshot


def test_an_object_without_a_records_path_suggests_the_list_fields(api: ApiServer, snapshot) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ExtractError) as e:
        rows(source(api.url, "stripe", params={"limit": 1}))
    assert scrub(str(e.value)) == snapshot


def test_null_records_are_an_empty_page(api: ApiServer) -> None:
    src = source(api.url, "next", records="next", params={"n": 3, "size": 5})
    tables, _ = run(src)
    assert tables == []


def test_a_page_whose_records_have_other_keys_keeps_every_value() -> None:
    from foundry_dsl.sources.http.landing import page_to_arrow

    batch = page_to_arrow([{"a": 1, "b": 2}, {"a": 3, "c": 4}, {"a": 5, "b": 6, "c": 7}])
    assert batch.to_pylist() == [
        {"a": 1, "b": 2, "c": None},
        {"a": 3, "b": None, "c": 4},
        {"a": 5, "b": 6, "c": 7},
    ]


def test_a_page_of_uniform_records_keeps_their_column_order() -> None:
    from foundry_dsl.sources.http.landing import page_to_arrow

    batch = page_to_arrow([{"z": 1, "a": "x"}, {"a": "y", "z": 2}])
    assert batch.schema.names == ["z", "a"]
    assert batch.to_pylist() == [{"z": 1, "a": "x"}, {"z": 2, "a": "y"}]


def test_timestamps_land_typed_by_default_and_as_sent_with_parse_dates_off(api: ApiServer) -> None:
    assert rows(source(api.url, "single", records="data", params={"n": 2})) == [
        typed_record(0), typed_record(1)]
    as_sent = source(api.url, "single", records="data", params={"n": 2}, parse_dates=False)
    assert rows(as_sent) == [record(0), record(1)]
