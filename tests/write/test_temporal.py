"""JSON text that holds ISO 8601 dates or timestamps lands typed; anything else stays text."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from foundry_dsl.sources.http.landing import page_to_arrow
from foundry_dsl.write.temporal import typed, typed_table

UTC = dt.timezone.utc


def test_iso_dates_become_date32() -> None:
    arr = typed(pa.array(["2024-05-01", None, "2024-02-29"]))
    assert arr.type == pa.date32()
    assert arr.to_pylist() == [dt.date(2024, 5, 1), None, dt.date(2024, 2, 29)]


def test_zoned_timestamps_become_utc_instants() -> None:
    arr = typed(pa.array(["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.25+02:00", "2024-05-01 00:00-0130"]))
    assert arr.type == pa.timestamp("us", "UTC")
    assert arr.to_pylist() == [
        dt.datetime(2024, 5, 1, 12, tzinfo=UTC),
        dt.datetime(2024, 5, 1, 10, 0, 0, 250_000, tzinfo=UTC),
        dt.datetime(2024, 5, 1, 1, 30, tzinfo=UTC),
    ]


def test_naive_timestamps_stay_naive() -> None:
    arr = typed(pa.array(["2024-05-01T12:00:00", "2024-05-01 13:30"]))
    assert arr.type == pa.timestamp("us")
    assert arr.to_pylist() == [dt.datetime(2024, 5, 1, 12), dt.datetime(2024, 5, 1, 13, 30)]


def test_leading_nulls_do_not_hide_a_date_column() -> None:
    assert typed(pa.array([None, None, "2024-05-01"])).type == pa.date32()


@pytest.mark.parametrize(
    "values",
    [
        ["2024-05-01", "2024-02-30"],  # a day that does not exist
        ["2024-05-01", "yesterday"],  # one value of another kind
        ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00"],  # zoned and naive mixed
        ["2024-05-01T12:00:00.1234567Z"],  # finer than microseconds: would lose digits
        ["05/01/2024"],  # not ISO 8601
        ["12.50", "3.10"],  # a decimal as text stays exact text
        ["2024-05-01x"],
    ],
)
def test_a_column_that_does_not_parse_whole_stays_text_unchanged(values: list[str]) -> None:
    arr = pa.array(values)
    assert typed(arr) is arr


@pytest.mark.parametrize("arr", [pa.array([None, None], pa.string()), pa.array([1, 2]), pa.array([], pa.string())])
def test_columns_that_are_not_text_or_hold_no_value_are_left_alone(arr: pa.Array) -> None:
    assert typed(arr) is arr


def test_a_table_types_each_text_column_and_keeps_the_others() -> None:
    table = pa.table({
        "id": [1, 2],
        "day": pa.chunked_array([["2024-05-01"], ["2024-05-02"]]),
        "note": ["a", "b"],
        "at": ["2024-05-01T00:00:00Z", None],
    })
    out = typed_table(table)
    assert out.schema == pa.schema([
        ("id", pa.int64()), ("day", pa.date32()), ("note", pa.string()), ("at", pa.timestamp("us", "UTC")),
    ])
    assert out.column("day").to_pylist() == [dt.date(2024, 5, 1), dt.date(2024, 5, 2)]


def test_an_api_page_lands_dates_and_timestamps_typed_and_decimal_text_as_text() -> None:
    page = page_to_arrow([
        {"id": 1, "day": "2024-05-01", "at": "2024-05-01T08:00:00Z", "amount": "12.50"},
        {"id": 2, "day": "2024-05-02", "at": "2024-05-02T09:30:00Z", "amount": "7.05"},
    ])
    assert page.schema == pa.schema([
        ("id", pa.int64()), ("day", pa.date32()), ("at", pa.timestamp("us", "UTC")), ("amount", pa.string()),
    ])


def test_an_api_page_of_mixed_types_is_typed_too() -> None:
    # "v" mixes int and str: the page goes through the widening converter, then is typed
    page = page_to_arrow([{"v": 1, "day": "2024-05-01"}, {"v": "x", "day": "2024-05-02"}])
    assert page.schema.field("day").type == pa.date32()
    assert page.column("v").to_pylist() == ["1", "x"]


def test_an_api_page_with_parse_dates_off_keeps_the_text_as_sent() -> None:
    page = page_to_arrow([{"day": "2024-05-01", "at": "2024-05-01T08:00:00Z"}], parse_dates=False)
    assert page.schema == pa.schema([("day", pa.string()), ("at", pa.string())])
    assert page.to_pylist() == [{"day": "2024-05-01", "at": "2024-05-01T08:00:00Z"}]


def test_a_mixed_page_with_parse_dates_off_keeps_the_text_too() -> None:
    page = page_to_arrow([{"v": 1, "day": "2024-05-01"}, {"v": "x", "day": "2024-05-02"}],
                         parse_dates=False)
    assert page.schema.field("day").type == pa.string()
