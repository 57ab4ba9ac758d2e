"""Runtime, data path: what an extractor yields → one Arrow table.

Extractors yield Arrow record batches or tables (passed through) or lists of
dicts, the original tool's records. Records are converted by Arrow in C++
(``pa.array`` infers one struct type over every row, so a field that first
appears in the last record is kept). Only when Arrow refuses a column, because
its values mix types, do we infer a widened type in Python for that column,
with the rules of :mod:`foundry_dsl.write.schema`; no value is dropped or nulled.
The table is handed to the chunker.

Memory is counted in bytes: :func:`batch_bytes` is what a batch weighs in a
byte-bounded queue (Arrow's buffers; for records, an estimate of the Arrow
size they convert to), and :func:`split_batch` cuts an oversized batch into
slices of a byte budget before it is queued, so a source's large batch is
converted and chunked a slice at a time. The other way round, :func:`coalesce`
joins a source's small Arrow batches (an API's pages) into one of a few MiB,
so what costs per batch downstream is paid once per many pages.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import time
from collections.abc import Iterable, Iterator
from functools import partial
from itertools import chain, repeat
from operator import is_not, methodcaller
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from foundry_dsl.write.schema import MAX_EXACT_INT, unify_types

if TYPE_CHECKING:
    from foundry_dsl.write.batch import Batch

_ARROW_REFUSALS = (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError)
#: records measured to estimate the bytes of a list of records
_SAMPLE_RECORDS = 32
#: :func:`coalesce` joins small Arrow batches up to this many rows ...
COALESCE_ROWS = 65_536
#: ... and this many bytes of Arrow buffers ...
COALESCE_BYTES = 4 * 2**20
#: ... holding the first of them at most this long (seconds)
COALESCE_SECONDS = 1.0


def batch_bytes(batch: Any) -> int:
    """What ``batch`` weighs: the bytes of its Arrow buffers (a slice counts its rows only).

    Records (a list of dicts) are estimated from a sample, as the Arrow bytes
    they convert to. Anything else weighs nothing.
    """
    if isinstance(batch, (pa.Table, pa.RecordBatch)):
        return int(batch.nbytes)
    if isinstance(batch, list):
        return estimate_bytes(batch)
    return 0


def estimate_bytes(records: list[Any]) -> int:
    """About the bytes that ``records`` take as Arrow, from a sample spread over them."""
    n = len(records)
    if not n:
        return 0
    sample = records[:: max(1, n // _SAMPLE_RECORDS)][:_SAMPLE_RECORDS]
    return int(sum(value_bytes(r) for r in sample) * n / len(sample))


def value_bytes(v: Any) -> int:
    """About the bytes that one Python value takes in an Arrow column."""
    if isinstance(v, str):
        return len(v) + 4  # characters (at least as many bytes) and an offset
    if isinstance(v, (bytes, bytearray)):
        return len(v) + 4
    if isinstance(v, dict):
        return 1 + sum(value_bytes(x) for x in v.values())
    if isinstance(v, (list, tuple)):
        return 4 + sum(value_bytes(x) for x in v)
    return 8


def split_batch(batch: Any, max_bytes: int) -> Iterator[Any]:
    """``batch`` as consecutive slices of about ``max_bytes`` each; small batches as they are.

    Arrow batches are sliced without copying (a slice is at most ``max_bytes``
    unless one row is wider); records are cut into lists of about ``max_bytes``
    estimated bytes. Anything else is handed on unchanged.
    """
    if isinstance(batch, (pa.Table, pa.RecordBatch)):
        from foundry_dsl.write.chunker import split

        yield from split(batch, max_bytes)
        return
    size = batch_bytes(batch) if isinstance(batch, list) else 0
    if size <= max_bytes:
        yield batch
        return
    rows = max(1, int(len(batch) * max_bytes / size))
    for i in range(0, len(batch), rows):
        yield batch[i : i + rows]


def coalesce(
    items: Iterable[Any],
    max_rows: int = COALESCE_ROWS,
    max_bytes: int = COALESCE_BYTES,
    max_seconds: float = COALESCE_SECONDS,
) -> Iterator[Any]:
    """``items`` with consecutive small Arrow batches of one schema joined into one.

    A group ends at ``max_rows`` rows, at ``max_bytes`` bytes, at a batch of
    another schema, at anything that is not a small Arrow batch (records, a
    cursor, an empty batch: handed on after the group, in order), and once
    ``max_seconds`` have passed since its first batch arrived. Values, types
    and order are unchanged; only the number of batches is.
    """
    group: list[Any] = []
    rows = size = 0
    since = 0.0
    try:
        for item in items:
            if (isinstance(item, (pa.RecordBatch, pa.Table)) and item.num_columns
                    and 0 < item.num_rows < max_rows
                    # the buffers' sizes: nbytes walks every value range (20 us a page)
                    and (n := int(item.get_total_buffer_size())) < max_bytes):
                if group and not item.schema.equals(group[0].schema, check_metadata=True):
                    yield _joined(group)
                    group, rows, size = [], 0, 0
                if not group:
                    since = time.monotonic()
                group.append(item)
                rows += item.num_rows
                size += n
                if rows >= max_rows or size >= max_bytes or time.monotonic() - since >= max_seconds:
                    yield _joined(group)
                    group, rows, size = [], 0, 0
                continue
            if group:
                yield _joined(group)
                group, rows, size = [], 0, 0
            yield item
        if group:
            yield _joined(group)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # a generator's cleanup (an extractor's threads) runs now, not at GC


def _joined(group: list[Any]) -> Any:
    if len(group) == 1:
        return group[0]
    batches = [b for t in group for b in (t.to_batches() if isinstance(t, pa.Table) else [t])]
    # contiguous columns: the writer hands DuckDB one batch instead of one per page
    return pa.Table.from_batches(batches, schema=group[0].schema).combine_chunks()


def to_table(batch: Batch) -> pa.Table:
    """One Arrow table for a batch; records keep every field and every value."""
    if isinstance(batch, pa.Table):
        return batch
    if isinstance(batch, pa.RecordBatch):
        return pa.Table.from_batches([batch])
    if not isinstance(batch, list):
        raise TypeError(
            f"an extractor yielded {type(batch).__name__}; expected a list of dicts, "
            "a pyarrow RecordBatch or a pyarrow Table"
        )
    if not batch:
        return pa.table({})
    try:
        arr = pa.array(batch)
    except _ARROW_REFUSALS:
        return _records_slow(batch)
    if not pa.types.is_struct(arr.type):
        raise TypeError("an extractor yielded a list whose items are not dicts")
    if _mixes_naive_and_aware(batch, arr.type):
        return _records_slow(batch)  # Arrow took the mix without refusing: widen as a refusal
    return pa.Table.from_struct_array(arr)


def _records_slow(records: list[dict[str, Any]]) -> pa.Table:
    names: dict[str, None] = {}
    for r in records:
        if not isinstance(r, dict):
            raise TypeError(f"an extractor yielded a record of type {type(r).__name__}, not a dict")
        names.update(dict.fromkeys(r))
    arrays, fields = [], []
    for name in names:
        values = [r.get(name) for r in records]
        arr = values_to_array(values)
        arrays.append(arr)
        fields.append(pa.field(name, arr.type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def values_to_array(values: list[Any]) -> pa.Array:
    """An Arrow array of ``values``, widening mixed types instead of failing."""
    try:
        arr = pa.array(values)
    except _ARROW_REFUSALS:
        pass
    else:
        if not _mixes_naive_and_aware(values, arr.type):
            return arr
    target = infer_type(values)
    return pa.array([normalize(v, target) for v in values], type=target)


def _has_timestamp(t: pa.DataType) -> bool:
    if pa.types.is_timestamp(t):
        return True
    if pa.types.is_struct(t):
        return any(_has_timestamp(f.type) for f in t)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_timestamp(t.value_type)
    return False


#: what a value that is not a datetime (None, a numpy datetime64) reads as in a zoned column
_NOT_NAIVE = object()


def _mixes_naive_and_aware(values: Iterable[Any], t: pa.DataType) -> bool:
    """Whether the datetimes that Arrow converted as ``t`` mix naive and aware ones.

    Arrow accepts such a mix without refusing (it takes the kind of the first value
    and shifts the others), so it is looked for here: only where ``t`` holds a
    timestamp, the values of the other kind than ``t``'s, with iterators that run
    in C (no Python loop over the values).
    """
    if not _has_timestamp(t):
        return False
    if pa.types.is_timestamp(t):
        # a tzinfo is an object (true), a naive datetime's is None (false)
        if t.tz is None:  # an aware value among naive ones
            return any(map(getattr, values, repeat("tzinfo"), repeat(None)))
        # a naive value among aware ones
        return not all(map(getattr, values, repeat("tzinfo"), repeat(_NOT_NAIVE)))
    if pa.types.is_struct(t):
        fields = [f for f in t if _has_timestamp(f.type)]
        records: Iterable[Any] = filter(None, values)  # no null (or empty) struct
        if len(fields) > 1:
            records = list(records)
        return any(
            _mixes_naive_and_aware(map(methodcaller("get", f.name), records), f.type)
            for f in fields
        )
    # a list's items (a numpy array's truth is ambiguous: only nulls are left out)
    lists = filter(partial(is_not, None), values)
    return _mixes_naive_and_aware(chain.from_iterable(lists), t.value_type)


def _kind(v: Any) -> str:
    # bool before int: bool is a subclass of int
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, dict):
        return "dict"
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, dt.datetime):
        return "datetime-tz" if v.tzinfo is not None else "datetime"
    return type(v).__name__


def infer_type(values: list[Any]) -> pa.DataType:
    """The widened Arrow type of mixed Python values (the slow path)."""
    groups: dict[str, list[Any]] = {}
    for v in values:
        if v is not None:
            groups.setdefault(_kind(v), []).append(v)
    result: pa.DataType = pa.null()
    for kind, group in groups.items():
        result = unify_types(result, _group_type(kind, group))
    if pa.types.is_floating(result) and any(abs(v) > MAX_EXACT_INT for v in groups.get("int", ())):
        return pa.string()  # a float would round these ints
    return result


def _group_type(kind: str, group: list[Any]) -> pa.DataType:
    if kind == "dict":
        keys: dict[str, None] = {}
        for d in group:
            keys.update(dict.fromkeys(str(k) for k in d))
        return pa.struct([(k, infer_type([d.get(k) for d in group])) for k in keys])
    if kind == "list":
        return pa.list_(infer_type([x for item in group for x in item]))
    if kind == "int":
        lo, hi = min(group), max(group)
        if lo >= -(2**63) and hi < 2**63:
            return pa.int64()
        if lo >= 0 and hi < 2**64:
            return pa.uint64()
        return pa.string()
    try:
        return pa.array(group).type
    except _ARROW_REFUSALS:
        return pa.string()


def normalize(v: Any, target: pa.DataType) -> Any:
    """``v`` shaped so that Arrow accepts it as ``target`` without losing it."""
    if v is None:
        return None
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return to_text(v)
    if pa.types.is_struct(target) and isinstance(v, dict):
        return {f.name: normalize(v.get(f.name), f.type) for f in target}
    if (pa.types.is_list(target) or pa.types.is_large_list(target)) and isinstance(v, (list, tuple)):
        return [normalize(x, target.value_type) for x in v]
    if pa.types.is_floating(target) and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    if pa.types.is_decimal(target) and isinstance(v, int):
        return decimal.Decimal(v)
    return v


def to_text(v: Any) -> str:
    """Text that keeps the value: JSON for nested values, ISO 8601 for times."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"  # as Arrow casts booleans, and as JSON writes them
    if isinstance(v, (dict, list, tuple)):
        import orjson

        return orjson.dumps(v, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return base64.b64encode(bytes(v)).decode()
    return str(v)


def with_lineage(table: pa.Table, batch_id: str, extracted_at: dt.datetime) -> pa.Table:
    """``table`` plus ``_batch_id`` and ``_extracted_at`` (the run option ``lineage``)."""
    n = table.num_rows
    ts_type = pa.timestamp("us", tz="UTC" if extracted_at.tzinfo is not None else None)
    table = table.append_column("_batch_id", pa.array([batch_id] * n, pa.string()))
    return table.append_column("_extracted_at", pa.array([extracted_at] * n, ts_type))
