"""to_table and friends on rarer values and record shapes: bytes, decimals, times,
values Arrow has no type for, lists and structs whose items widen, and what a batch
that is not records weighs and how it is split."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from foundry_dsl.write.convert import (
    estimate_bytes,
    split_batch,
    to_table,
    to_text,
    value_bytes,
    values_to_array,
)

AMSTERDAM_WINTER = dt.timezone(dt.timedelta(hours=1))


# --- what a batch weighs, and splitting --------------------------------------------------


def test_no_records_weigh_nothing() -> None:
    assert estimate_bytes([]) == 0


def test_bytes_weigh_their_length_and_an_offset() -> None:
    assert (value_bytes(b"abc"), value_bytes(bytearray(b"abcde"))) == (7, 9)


def test_split_batch_hands_on_a_batch_that_is_neither_records_nor_arrow_as_it_is() -> None:
    cursor = object()
    assert list(split_batch(cursor, 10)) == [cursor]


# --- what an extractor may yield ---------------------------------------------------------


def test_a_batch_that_is_not_a_list_or_arrow_is_refused_by_its_type() -> None:
    with pytest.raises(TypeError) as err:
        to_table({"id": 1})  # type: ignore[arg-type]
    assert str(err.value) == (
        "an extractor yielded dict; expected a list of dicts, "
        "a pyarrow RecordBatch or a pyarrow Table"
    )


def test_a_record_that_is_not_a_dict_among_dicts_is_refused_by_its_type() -> None:
    with pytest.raises(TypeError) as err:
        to_table([{"id": 1}, ("id", 2)])  # type: ignore[list-item]
    assert str(err.value) == "an extractor yielded a record of type tuple, not a dict"


# --- columns whose values mix types ------------------------------------------------------


def test_a_null_among_mixed_values_stays_null() -> None:
    t = to_table([{"v": 1}, {"v": "one"}, {"v": None}])
    assert (t.schema, t.column("v").to_pylist()) == (
        pa.schema([("v", pa.string())]), ["1", "one", None],
    )


def test_datetimes_mixed_with_text_become_iso_8601_text() -> None:
    t = to_table([
        {"v": dt.datetime(2025, 1, 12, 14, 30)},
        {"v": dt.datetime(2025, 1, 12, 14, 30, tzinfo=AMSTERDAM_WINTER)},
        {"v": "later"},
    ])
    assert (t.schema, t.column("v").to_pylist()) == (
        pa.schema([("v", pa.string())]),
        ["2025-01-12T14:30:00", "2025-01-12T14:30:00+01:00", "later"],
    )


def test_dates_and_times_mixed_with_text_become_iso_8601_text() -> None:
    t = to_table([{"v": dt.date(2025, 1, 12)}, {"v": dt.time(14, 30, 5)}, {"v": "noon"}])
    assert t.column("v").to_pylist() == ["2025-01-12", "14:30:05", "noon"]


def test_bytes_mixed_with_numbers_become_base64_text() -> None:
    t = to_table([{"v": b"\x00\xffab"}, {"v": 2}])
    assert (t.schema, t.column("v").to_pylist()) == (
        pa.schema([("v", pa.string())]), ["AP9hYg==", "2"],
    )


def test_a_value_arrow_has_no_type_for_becomes_its_text() -> None:
    t = to_table([{"v": 1}, {"v": 2 + 3j}])
    assert (t.schema, t.column("v").to_pylist()) == (
        pa.schema([("v", pa.string())]), ["1", "(2+3j)"],
    )


def test_a_decimal_column_with_an_int_too_wide_for_it_widens_the_decimal() -> None:
    t = to_table([{"v": decimal.Decimal("1.5")}, {"v": 2**62}])
    assert (t.schema, t.column("v").to_pylist()) == (
        pa.schema([("v", pa.decimal128(21, 1))]),
        [decimal.Decimal("1.5"), decimal.Decimal(2**62)],
    )


def test_ints_in_a_struct_field_that_widens_to_float_become_floats() -> None:
    t = to_table([{"v": {"n": 1, "tag": "a"}}, {"v": {"n": 2.5, "tag": 3}}])
    assert (t.schema, t.column("v").to_pylist()) == (
        pa.schema([("v", pa.struct([("n", pa.float64()), ("tag", pa.string())]))]),
        [{"n": 1.0, "tag": "a"}, {"n": 2.5, "tag": "3"}],
    )


def test_list_items_that_mix_types_widen_inside_the_list() -> None:
    t = to_table([{"v": [1, 2]}, {"v": ["three"]}, {"v": []}])
    assert (t.schema, t.column("v").to_pylist()) == (
        pa.schema([("v", pa.list_(pa.string()))]), [["1", "2"], ["three"], []],
    )


def test_a_tuple_among_lists_is_kept_as_a_list() -> None:
    assert values_to_array([(1, "x"), [2]]).to_pylist() == [["1", "x"], ["2"]]


# --- values as text ----------------------------------------------------------------------


def test_nested_values_with_non_text_keys_become_json() -> None:
    assert to_text({1: [True, None], "at": dt.date(2025, 1, 12)}) == (
        '{"1":[true,null],"at":"2025-01-12"}'
    )


def test_a_bytearray_becomes_base64_text() -> None:
    assert to_text(bytearray(b"hi")) == "aGk="


# --- bugs --------------------------------------------------------------------------------


def test_naive_and_aware_datetimes_in_one_column_keep_both_as_text() -> None:
    t = to_table([
        {"v": dt.datetime(2025, 1, 12, 14, 30)},
        {"v": dt.datetime(2025, 1, 12, 14, 30, tzinfo=AMSTERDAM_WINTER)},
    ])
    assert (t.schema, t.column("v").to_pylist()) == (
        pa.schema([("v", pa.string())]),
        ["2025-01-12T14:30:00", "2025-01-12T14:30:00+01:00"],
    )
