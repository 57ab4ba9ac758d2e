"""Schema widening across chunks: no value is ever dropped or silently nulled."""

from __future__ import annotations

import pyarrow as pa
import pytest

from foundry_dsl.errors import ExtractError
from foundry_dsl.write.convert import to_table
from foundry_dsl.write.schema import BatchSchema, conform, unify, unify_types


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (pa.null(), pa.int64(), pa.int64()),
        (pa.int8(), pa.int32(), pa.int32()),
        (pa.uint8(), pa.int8(), pa.int16()),
        (pa.uint32(), pa.int64(), pa.int64()),
        (pa.uint64(), pa.int64(), pa.decimal128(20, 0)),
        (pa.int64(), pa.float64(), pa.float64()),
        (pa.float32(), pa.float64(), pa.float64()),
        (pa.decimal128(10, 2), pa.decimal128(12, 6), pa.decimal128(14, 6)),
        (pa.decimal128(10, 2), pa.float64(), pa.string()),
        (pa.bool_(), pa.int64(), pa.string()),
        (pa.int64(), pa.string(), pa.string()),
        (pa.timestamp("ms", "UTC"), pa.timestamp("us", "UTC"), pa.timestamp("us", "UTC")),
        (pa.timestamp("us"), pa.timestamp("us", "UTC"), pa.string()),
        (pa.date32(), pa.timestamp("us"), pa.timestamp("us")),
        (pa.list_(pa.int64()), pa.list_(pa.float64()), pa.list_(pa.float64())),
        (pa.struct([("x", pa.int64())]), pa.list_(pa.int64()), pa.string()),
    ],
)
def test_unify_types_rule(a: pa.DataType, b: pa.DataType, expected: pa.DataType) -> None:
    assert unify_types(a, b) == expected
    assert unify_types(b, a) == expected


def test_new_fields_are_appended_in_order_of_first_appearance() -> None:
    a = pa.schema([("id", pa.int64()), ("b", pa.string())])
    b = pa.schema([("z", pa.int64()), ("id", pa.int64()), ("c", pa.bool_())])
    assert unify(a, b).names == ["id", "b", "z", "c"]


def test_struct_fields_merge_recursively() -> None:
    a = pa.schema([("n", pa.struct([("x", pa.int64()), ("deep", pa.struct([("p", pa.int32())]))]))])
    b = pa.schema([("n", pa.struct([("deep", pa.struct([("q", pa.string())])), ("y", pa.string())]))])
    assert unify(a, b).field("n").type == pa.struct(
        [
            ("x", pa.int64()),
            ("deep", pa.struct([("p", pa.int32()), ("q", pa.string())])),
            ("y", pa.string()),
        ]
    )


def test_conform_adds_missing_columns_as_nulls_and_reorders() -> None:
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    t = conform(pa.table({"b": ["x"]}), schema)
    assert t.schema == schema
    assert t.to_pylist() == [{"a": None, "b": "x"}]


def test_conform_casts_struct_to_json_text() -> None:
    t = conform(to_table([{"v": {"k": [1, 2]}}]), pa.schema([("v", pa.string())]))
    assert t.column("v").to_pylist() == ['{"k":[1,2]}']


def test_conform_widens_nested_struct_inside_list() -> None:
    src = to_table([{"l": [{"x": 1}, None, {"x": 2}]}, {"l": None}])
    target = pa.schema([("l", pa.list_(pa.struct([("x", pa.float64()), ("y", pa.string())])))])
    assert conform(src, target).to_pylist() == [
        {"l": [{"x": 1.0, "y": None}, None, {"x": 2.0, "y": None}]},
        {"l": None},
    ]


def test_conform_refuses_a_cast_that_would_lose_digits() -> None:
    with pytest.raises(ExtractError, match="without losing values"):
        conform(pa.table({"v": [2**60 + 1]}), pa.schema([("v", pa.float64())]))


def _land(chunks: list[list[dict]]) -> list[dict]:
    """What a reader sees: every chunk conformed to the final batch schema."""
    bs = BatchSchema()
    tables = [bs.add(to_table(c)) for c in chunks]
    assert bs.schema is not None
    return pa.concat_tables([conform(t, bs.schema) for t in tables]).to_pylist()


def test_drift_new_field_in_a_later_chunk_is_kept() -> None:
    assert _land([[{"id": 1}], [{"id": 2, "extra": "x"}]]) == [
        {"id": 1, "extra": None},
        {"id": 2, "extra": "x"},
    ]


def test_drift_int_then_float_keeps_every_value() -> None:
    assert _land([[{"v": 1}, {"v": 2}], [{"v": 2.5}]]) == [{"v": 1.0}, {"v": 2.0}, {"v": 2.5}]


def test_drift_value_then_null_keeps_the_value() -> None:
    assert _land([[{"v": "a"}], [{"v": None}], [{"v": 3}]]) == [{"v": "a"}, {"v": None}, {"v": "3"}]


def test_drift_big_int_then_float_becomes_text() -> None:
    assert _land([[{"v": 2**60 + 1}], [{"v": 0.5}]]) == [{"v": str(2**60 + 1)}, {"v": "0.5"}]


def test_batch_schema_version_counts_changes() -> None:
    bs = BatchSchema()
    bs.add(pa.table({"a": [1]}))
    bs.add(pa.table({"a": [2]}))
    assert bs.version == 1
    bs.add(pa.table({"a": [2.5]}))
    assert bs.version == 2
