"""Runtime, data path: one Arrow schema per batch, widened as chunks arrive.

Every file of a batch shares one schema. The executor folds each chunk's schema
into the batch schema with :func:`unify` (or :class:`BatchSchema`, which also
watches values), conforms the chunk with :func:`conform` before writing, and
rewrites the files written before the schema last widened
(:func:`foundry_dsl.write.writers.rewrite`). The rules are written down in
``docs/writing.md``; the one invariant is that no value is ever dropped or
silently nulled: when two types cannot both be represented exactly, the column
becomes text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

# pyarrow.compute builds a wrapper for every kernel when imported (0.1-0.2 s of
# start-up): only a cast needs it; the per-batch check calls its kernel directly
from pyarrow._compute import call_function

from foundry_dsl.errors import ExtractError

if TYPE_CHECKING:
    from collections.abc import Iterable

#: floats hold every integer up to this magnitude exactly
MAX_EXACT_INT = 2**53


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t))


def _is_nested(t: pa.DataType) -> bool:
    return bool(pa.types.is_nested(t))


def _is_list(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t))


def _int_bits(t: pa.DataType) -> int:
    return int(t.bit_width)


def _unify_ints(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    sa, sb = pa.types.is_signed_integer(a), pa.types.is_signed_integer(b)
    if sa == sb:
        return a if _int_bits(a) >= _int_bits(b) else b
    signed, unsigned = (a, b) if sa else (b, a)
    if _int_bits(signed) > _int_bits(unsigned):
        return signed
    if _int_bits(unsigned) < 64:
        # the next signed width that holds every value of the unsigned one
        return {8: pa.int16(), 16: pa.int32(), 32: pa.int64()}[_int_bits(unsigned)]
    return pa.decimal128(20, 0)  # every int64 and every uint64, exactly


def _unify_decimals(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    scale = max(a.scale, b.scale)
    integer_digits = max(a.precision - a.scale, b.precision - b.scale)
    precision = integer_digits + scale
    if precision <= 38:
        return pa.decimal128(precision, scale)
    if precision <= 76:
        return pa.decimal256(precision, scale)
    return pa.string()


_UNIT_RANK = {"s": 0, "ms": 1, "us": 2, "ns": 3}


def _unify_temporal(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    if pa.types.is_timestamp(a) and pa.types.is_timestamp(b):
        if (a.tz is None) != (b.tz is None):
            return None  # naive and aware instants are different things: keep both as text
        unit = max(a.unit, b.unit, key=_UNIT_RANK.__getitem__)
        tz = a.tz if a.tz == b.tz else ("UTC" if a.tz is not None else None)
        return pa.timestamp(unit, tz=tz)
    if pa.types.is_date(a) and pa.types.is_timestamp(b) and b.tz is None:
        return b
    if pa.types.is_timestamp(a) and pa.types.is_date(b) and a.tz is None:
        return a
    if pa.types.is_date(a) and pa.types.is_date(b):
        return pa.date32()
    if pa.types.is_time(a) and pa.types.is_time(b):
        unit = max(a.unit, b.unit, key=_UNIT_RANK.__getitem__)
        return pa.time64(unit) if unit in ("us", "ns") else pa.time32(unit)
    return None


def unify_types(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    """The narrowest type that holds every value of ``a`` and of ``b`` exactly."""
    if a.equals(b):
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    if pa.types.is_dictionary(a):
        return unify_types(a.value_type, b)
    if pa.types.is_dictionary(b):
        return unify_types(a, b.value_type)
    if _is_text(a) or _is_text(b):
        return pa.large_string() if pa.types.is_large_string(a) or pa.types.is_large_string(b) else pa.string()
    if pa.types.is_integer(a) and pa.types.is_integer(b):
        return _unify_ints(a, b)
    if pa.types.is_floating(a) and pa.types.is_floating(b):
        return a if a.bit_width >= b.bit_width else b
    if (pa.types.is_integer(a) and pa.types.is_floating(b)) or (
        pa.types.is_floating(a) and pa.types.is_integer(b)
    ):
        # ints beyond 2**53 would lose digits; BatchSchema turns such columns into text
        return pa.float64()
    if pa.types.is_decimal(a) and pa.types.is_decimal(b):
        return _unify_decimals(a, b)
    if pa.types.is_decimal(a) and pa.types.is_integer(b):
        return _unify_decimals(a, pa.decimal128(20, 0))
    if pa.types.is_integer(a) and pa.types.is_decimal(b):
        return _unify_decimals(pa.decimal128(20, 0), b)
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        return pa.struct(_unify_fields(list(a), list(b)))
    if _is_list(a) and _is_list(b):
        item = unify_types(a.value_type, b.value_type)
        large = pa.types.is_large_list(a) or pa.types.is_large_list(b)
        return pa.large_list(item) if large else pa.list_(item)
    if (pa.types.is_binary(a) or pa.types.is_large_binary(a)) and (
        pa.types.is_binary(b) or pa.types.is_large_binary(b)
    ):
        return pa.large_binary()
    temporal = _unify_temporal(a, b)
    if temporal is not None:
        return temporal
    # bool vs number, number vs temporal, struct vs list, ...: text keeps every value
    return pa.string()


def _unify_fields(a: Iterable[pa.Field], b: Iterable[pa.Field]) -> list[pa.Field]:
    fields: dict[str, pa.Field] = {f.name: f for f in a}
    for f in b:
        old = fields.get(f.name)
        if old is None:
            fields[f.name] = f.with_nullable(True)
        else:
            fields[f.name] = pa.field(
                f.name, unify_types(old.type, f.type), nullable=old.nullable or f.nullable
            )
    return list(fields.values())


def unify(a: pa.Schema, b: pa.Schema) -> pa.Schema:
    """``a`` widened to hold ``b``: new fields appended in order of first appearance."""
    # a field missing from one side is null there, so every field becomes nullable
    names_a, names_b = set(a.names), set(b.names)
    merged = _unify_fields(list(a), list(b))
    return pa.schema(
        [f if f.name in names_a and f.name in names_b else f.with_nullable(True) for f in merged]
    )


def _to_json_text(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    import orjson

    def dump(v: Any) -> str | None:
        if v is None:
            return None
        return orjson.dumps(v, default=str, option=orjson.OPT_NON_STR_KEYS).decode()

    return pa.array([dump(v) for v in arr.to_pylist()], type=pa.string())


def cast_array(arr: pa.Array | pa.ChunkedArray, target: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """``arr`` as ``target``, exactly, or an error: never a silent loss."""
    source = arr.type
    if source.equals(target):
        return arr
    if pa.types.is_null(source):
        return pa.nulls(len(arr), target)
    if _is_text(target) and _is_nested(source):
        return _to_json_text(arr)
    if _is_text(target) and (pa.types.is_binary(source) or pa.types.is_large_binary(source)):
        import base64

        return pa.array(
            [None if v is None else base64.b64encode(v).decode() for v in arr.to_pylist()],
            type=target,
        )
    if pa.types.is_struct(target) and pa.types.is_struct(source):
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        children = []
        for f in target:
            idx = source.get_field_index(f.name)
            child = arr.field(idx) if idx >= 0 else pa.nulls(len(arr), f.type)
            children.append(cast_array(child, f.type))
        return pa.StructArray.from_arrays(
            children, fields=list(target), mask=arr.is_null() if arr.null_count else None
        )
    if _is_list(target) and _is_list(source) and _is_nested(target.value_type):
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        values = cast_array(arr.flatten(), target.value_type)
        offsets = arr.offsets
        cls = pa.LargeListArray if pa.types.is_large_list(target) else pa.ListArray
        if arr.offset or arr.null_count:
            # offsets of a sliced list start past 0; flatten() already dropped the prefix
            import pyarrow.compute as pc

            offsets = pc.subtract(offsets, offsets[0])
            return cls.from_arrays(offsets, values, type=target, mask=arr.is_null())
        return cls.from_arrays(offsets, values, type=target)
    import pyarrow.compute as pc

    try:
        return pc.cast(arr, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise ExtractError(
            f"cannot convert a column of type {source} to {target} without losing values: {exc}"
        ) from None


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns, order and types; missing columns are null."""
    if table.schema.equals(schema):
        return table
    extra = [n for n in table.column_names if schema.get_field_index(n) < 0]
    if extra:
        raise ExtractError(
            f"columns {extra} are not in the batch schema; unify the schemas first"
        )
    columns = []
    for f in schema:
        idx = table.schema.get_field_index(f.name)
        if idx < 0:
            columns.append(pa.nulls(table.num_rows, f.type))
        else:
            columns.append(cast_array(table.column(idx), f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _has_big_ints(column: pa.ChunkedArray) -> bool:
    if not pa.types.is_integer(column.type) or column.null_count == len(column):
        return False
    bounds = call_function("min_max", [column])
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    return bool(abs(lo) > MAX_EXACT_INT or abs(hi) > MAX_EXACT_INT)


def _big_ints_as_text(schema: pa.Schema, big_ints: set[str]) -> pa.Schema:
    # a float64 cannot hold 2**60 exactly: such a column is widened to text instead
    return pa.schema([
        f.with_type(pa.string()) if f.name in big_ints and pa.types.is_floating(f.type) else f
        for f in schema
    ])


def merge(schemas: Iterable[pa.Schema], big_ints: Iterable[str]) -> pa.Schema | None:
    """The one schema of batches landed apart (parts on a cluster), by the rules of
    :class:`BatchSchema`: ``big_ints`` names the columns any part saw beyond 2**53."""
    merged: pa.Schema | None = None
    for s in schemas:
        merged = s if merged is None else unify(merged, s)
    return None if merged is None else _big_ints_as_text(merged, set(big_ints))


class BatchSchema:
    """The schema of one batch, widened chunk by chunk, watching values too.

    Schemas alone cannot tell that an int64 column holds 2**60, which a float64
    cannot: this class remembers such columns and widens them to text instead.
    ``version`` grows each time the schema changes, so the executor knows which
    written files to rewrite.
    """

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None
        self.version = 0
        self._big_ints: set[str] = set()
        # the last table schema that widened nothing: the same again (every page of an
        # API, every batch of a query) skips unify, which costs more than the rest
        self._seen: pa.Schema | None = None

    @property
    def big_ints(self) -> frozenset[str]:
        """Integer columns that held values a float64 cannot hold exactly."""
        return frozenset(self._big_ints)

    def add(self, table: pa.Table) -> pa.Table:
        """Widen with ``table``'s schema and return ``table`` conformed to it."""
        found = False
        for i, field in enumerate(table.schema):
            if (pa.types.is_integer(field.type) and field.name not in self._big_ints
                    and _has_big_ints(table.column(i))):
                self._big_ints.add(field.name)
                found = True
        if not found and self._seen is not None and table.schema.equals(self._seen):
            assert self.schema is not None
            return conform(table, self.schema)
        widened = table.schema if self.schema is None else unify(self.schema, table.schema)
        widened = _big_ints_as_text(widened, self._big_ints)
        if self.schema is None or not widened.equals(self.schema):
            self.schema = widened
            self.version += 1
            self._seen = None
        else:
            self._seen = table.schema
        return conform(table, self.schema)
