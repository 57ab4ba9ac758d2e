"""Runtime, data path: JSON text that holds dates or timestamps → Arrow temporal columns.

JSON has no date type, so an API sends dates and timestamps as ISO 8601 text.
A text column whose first value reads as one is cast by Arrow's strict ISO 8601
parser, the whole column or nothing: a single value that does not parse
(another format, a day that does not exist, nanoseconds, naive and zoned
values mixed) keeps the column text, so no value is ever changed or dropped.

- ``2024-05-01`` → ``date32``
- ``2024-05-01T12:00:00Z``, ``...+02:00`` → ``timestamp[us, UTC]`` (the instant;
  an offset other than UTC is not kept)
- ``2024-05-01T12:00:00``, ``2024-05-01 12:00`` → ``timestamp[us]`` (naive)

A column typed on one page and text on another becomes text for the whole
batch (:mod:`foundry_dsl.write.schema`: a temporal value meeting a string).
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(Z|[+-]\d{2}(?::?\d{2})?)?\Z")
DATE = pa.date32()
ZONED = pa.timestamp("us", "UTC")
NAIVE = pa.timestamp("us")
_TEXT = pa.string()


def typed(arr: pa.Array) -> pa.Array:
    """``arr`` as a date or timestamp array when every value is one; else ``arr`` itself."""
    if arr.type != _TEXT or arr.null_count == len(arr):
        return arr
    first = (arr if arr.null_count == 0 else arr.drop_null())[0].as_py()
    if _DATE.match(first):
        target = DATE
    elif m := _STAMP.match(first):
        target = ZONED if m.group(1) else NAIVE
    else:
        return arr
    try:
        return pc.cast(arr, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return arr


def typed_table(table: pa.Table) -> pa.Table:
    """``table`` with each of its text columns :func:`typed`."""
    for i, field in enumerate(table.schema):
        if field.type == _TEXT:
            column = table.column(i)
            arr = typed(column.combine_chunks() if column.num_chunks != 1 else column.chunk(0))
            if arr.type != _TEXT:
                table = table.set_column(i, pa.field(field.name, arr.type, field.nullable), arr)
    return table
