"""to_table: extractor batches → Arrow, keeping every field and every value."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from foundry_dsl.write.convert import batch_bytes, estimate_bytes, split_batch, to_table


def test_record_batch_passes_through_as_a_table() -> None:
    rb = pa.record_batch({"a": [1, 2]})
    assert to_table(rb).equals(pa.Table.from_batches([rb]))


def test_table_passes_through_unchanged() -> None:
    t = pa.table({"a": [1]})
    assert to_table(t) is t


def test_a_field_first_seen_in_the_last_record_is_kept() -> None:
    t = to_table([{"a": 1}, {"a": 2, "late": "x"}])
    assert t.column_names == ["a", "late"]
    assert t.to_pylist() == [{"a": 1, "late": None}, {"a": 2, "late": "x"}]


def test_nested_dicts_become_structs_and_lists_stay_lists() -> None:
    t = to_table([{"n": {"x": 1, "tags": ["a", "b"]}}])
    assert t.schema.field("n").type == pa.struct([("x", pa.int64()), ("tags", pa.list_(pa.string()))])
    assert t.to_pylist() == [{"n": {"x": 1, "tags": ["a", "b"]}}]


def test_int_and_float_widen_to_float64() -> None:
    t = to_table([{"v": 1}, {"v": 2.5}])
    assert t.schema.field("v").type == pa.float64()
    assert t.column("v").to_pylist() == [1.0, 2.5]


def test_an_int_beyond_2_53_with_floats_becomes_text_not_a_rounded_float() -> None:
    t = to_table([{"v": 2**60 + 1}, {"v": 1.5}])
    assert t.schema.field("v").type == pa.string()
    assert t.column("v").to_pylist() == [str(2**60 + 1), "1.5"]


def test_number_and_string_widen_to_string() -> None:
    t = to_table([{"v": 7}, {"v": "seven"}])
    assert t.column("v").to_pylist() == ["7", "seven"]


def test_bool_and_int_widen_to_string() -> None:
    t = to_table([{"v": True}, {"v": 2}])
    assert t.column("v").to_pylist() == ["true", "2"]


def test_null_takes_the_type_of_the_values() -> None:
    t = to_table([{"v": None}, {"v": 3}])
    assert t.schema.field("v").type == pa.int64()
    assert t.column("v").to_pylist() == [None, 3]


def test_nested_and_scalar_mixed_become_json_text() -> None:
    t = to_table([{"v": {"k": 1}}, {"v": "s"}, {"v": [1, 2]}])
    assert t.column("v").to_pylist() == ['{"k":1}', "s", "[1,2]"]


def test_mixed_struct_children_widen_without_losing_the_other_columns() -> None:
    t = to_table([{"id": 1, "n": {"x": 1}}, {"id": 2, "n": {"x": "one"}}])
    assert t.to_pylist() == [{"id": 1, "n": {"x": "1"}}, {"id": 2, "n": {"x": "one"}}]


def test_uint64_range_ints_are_kept() -> None:
    t = to_table([{"v": 2**63}, {"v": 1}])
    assert t.schema.field("v").type == pa.uint64()
    assert t.column("v").to_pylist() == [2**63, 1]


def test_ints_beyond_64_bits_become_text() -> None:
    t = to_table([{"v": 2**70}, {"v": -1}])
    assert t.column("v").to_pylist() == [str(2**70), "-1"]


def test_datetimes_dates_and_decimals_keep_their_types() -> None:
    ts = dt.datetime(2025, 1, 12, 14, 30, tzinfo=dt.timezone.utc)
    t = to_table([{"ts": ts, "d": dt.date(2025, 1, 12), "m": decimal.Decimal("1.25")}])
    assert pa.types.is_timestamp(t.schema.field("ts").type)
    assert t.schema.field("d").type == pa.date32()
    assert pa.types.is_decimal(t.schema.field("m").type)
    assert t.to_pylist() == [{"ts": ts, "d": dt.date(2025, 1, 12), "m": decimal.Decimal("1.25")}]


def test_empty_list_is_an_empty_table() -> None:
    assert to_table([]).num_rows == 0


def test_a_non_dict_record_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r"not a dict|not dicts"):
        to_table([1, 2])  # type: ignore[list-item]


def test_lineage_columns_are_appended() -> None:
    from foundry_dsl.write.convert import with_lineage

    at = dt.datetime(2025, 1, 12, 14, 30, tzinfo=dt.timezone.utc)
    t = with_lineage(pa.table({"a": [1, 2]}), "b1", at)
    assert t.column_names == ["a", "_batch_id", "_extracted_at"]
    assert t.to_pylist()[1] == {"a": 2, "_batch_id": "b1", "_extracted_at": at}


# --- what a batch weighs, and splitting an oversized one ---------------------------------


def test_batch_bytes_of_arrow_is_its_buffers_and_of_a_slice_its_rows() -> None:
    t = pa.table({"s": ["x" * 1000] * 100})
    assert batch_bytes(t) == t.nbytes
    assert batch_bytes(t.slice(0, 10)) < t.nbytes / 5
    assert batch_bytes(t.to_batches()[0]) == t.nbytes
    assert batch_bytes(None) == 0


def test_records_are_estimated_near_their_arrow_size() -> None:
    records = [{"id": i, "name": "x" * 1000, "tags": ["a", "b"], "n": {"k": 1.5}} for i in range(500)]
    arrow = to_table(records).nbytes
    assert 0.8 * arrow <= batch_bytes(records) <= 1.25 * arrow


def test_split_batch_cuts_records_by_their_estimated_bytes() -> None:
    records = [{"id": i, "text": "y" * 1000} for i in range(1000)]
    parts = list(split_batch(records, 100_000))
    assert len(parts) > 5
    assert all(estimate_bytes(p) <= 100_000 for p in parts)
    assert [r for p in parts for r in p] == records


def test_split_batch_hands_small_batches_on_unchanged() -> None:
    records = [{"id": 1}]
    table = pa.table({"a": [1, 2]})
    assert next(iter(split_batch(records, 1000))) is records
    assert next(iter(split_batch(table, 1000))) is table


def test_split_batch_cuts_arrow_within_the_budget() -> None:
    rb = pa.record_batch({"s": ["z" * 500] * 400})
    parts = list(split_batch(rb, 20_000))
    assert all(isinstance(p, pa.RecordBatch) and p.nbytes <= 20_000 for p in parts)
    assert sum(p.num_rows for p in parts) == 400
