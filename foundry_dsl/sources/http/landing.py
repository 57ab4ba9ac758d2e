"""Source layer, API: one page's records → what lands of them.

:func:`land` is everything the extractor does with a fetched page before the
executor sees it: keep a replayed window's records only, find the largest
value of the incremental field among them, and convert them to one Arrow
record batch. It runs wherever the page was fetched, in the extractor's
process or in a page worker (:mod:`foundry_dsl.sources.http.page_workers`),
so both give the same batch and the same cursor.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from operator import itemgetter
from typing import Any

from foundry_dsl.sources.http.records import Step, compile_path, get_path


@dataclass(frozen=True)
class Landed:
    """What lands of one page."""

    batch: Any  # an Arrow record batch, or None when no record lands
    count: int  # records landed
    top: Any = None  # the largest value of the incremental field among them, if any


def land(records: list[dict[str, Any]], *, parse_dates: bool, field: str | None = None,
         until: str | None = None, converted: Any = None) -> Landed:
    """The page's records as they land: those not past ``until`` (a replayed window's
    end) when it is set, with the top of the incremental ``field`` when there is one.
    ``converted`` is every record of the page as :func:`page_to_arrow` made them, used
    when every record lands."""
    every = len(records)
    if until is not None and field is not None and records:
        records = within(records, field, until)
    if not records:
        return Landed(None, 0)
    top = page_top(records, compile_path(field)) if field is not None else None
    if converted is None or len(records) != every:
        converted = page_to_arrow(records, parse_dates=parse_dates)
    return Landed(converted, len(records), top)


class PageRecords:
    """A page's records as a worker sends them for the page-loop check: their count, the
    first record and every record in Arrow. Equal to another page's records when these
    are: comparing Arrow columns costs microseconds where hashing the records costs a
    third of a millisecond a page. Converting is deterministic, so the same records
    give the same batch; and records that differ give different batches, but for
    values a JSON page cannot tell apart either (an ISO timestamp written with ``Z``
    and with ``+00:00``)."""

    def __init__(self, records: list[dict[str, Any]], batch: Any, parse_dates: bool) -> None:
        self.count = len(records)
        self.first = records[0] if records else None
        self.batch = batch
        self.parse_dates = parse_dates

    def __len__(self) -> int:
        return self.count

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):  # a page this process fetched: convert it only when
            if len(other) != self.count or (other[0] if other else None) != self.first:
                return False  # its first record leaves a doubt
            if not other:
                return True
            other = PageRecords(other, page_to_arrow(other, parse_dates=self.parse_dates),
                                self.parse_dates)
        if not isinstance(other, PageRecords):
            return NotImplemented
        if (self.count, self.first) != (other.count, other.first):
            return False
        if self.batch is None or other.batch is None:
            return self.batch is other.batch
        mine, theirs = _by_name(self.batch), _by_name(other.batch)
        return type(mine) is type(theirs) and bool(mine.equals(theirs))


def _by_name(batch: Any) -> Any:
    """``batch`` with its columns in name order: records compare as dicts, whatever the
    order of their keys."""
    names = batch.schema.names
    ordered = sorted(names)
    return batch if names == ordered else batch.select(ordered)


def page_to_arrow(records: list[dict[str, Any]], *, parse_dates: bool = True) -> Any:
    """One page as an Arrow record batch: a column per key seen on the page, ISO 8601
    dates and timestamps typed unless ``parse_dates`` is off (:mod:`foundry_dsl.write.temporal`).

    Column by column is about twice as fast as Arrow's struct inference over
    whole records. A column Arrow refuses (mixed types) sends the page to
    :func:`foundry_dsl.write.convert.to_table`, so widening follows one set of rules.
    """
    import pyarrow as pa

    from foundry_dsl.write.temporal import typed, typed_table

    try:
        arrays, names = _columns(records, pa)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        from foundry_dsl.write.convert import to_table

        table = to_table(records)
        return typed_table(table) if parse_dates else table
    if parse_dates:
        arrays = [typed(a) for a in arrays]
    return pa.RecordBatch.from_arrays(arrays, names=names)


def _columns(records: list[dict[str, Any]], pa: Any) -> tuple[list[Any], list[str]]:
    first = list(records[0]) if records else []
    # The common page: every record has exactly the first one's keys. Then a C-level
    # itemgetter mapped over the page reads a column a third faster than a get() per
    # value, and twice as fast as transposing whole rows with zip.
    if len(first) > 1 and set(map(len, records)) == {len(first)}:
        try:
            return [pa.array(list(map(itemgetter(k), records))) for k in first], first
        except KeyError:
            pass  # same count, other keys: the general path below
    names = list(dict.fromkeys(chain.from_iterable(records)))
    return [pa.array([r.get(name) for r in records]) for name in names], names


def within(records: list[dict[str, Any]], field: str, until: str) -> list[dict[str, Any]]:
    """The records whose incremental field is not past ``until``: a replayed window's
    rows only, whether or not the API took an upper bound (records without the
    field stay, as they would in any run)."""
    from foundry_dsl.cursors import past

    steps = compile_path(field)
    return [r for r in records
            if (v := get_path(r, steps)) is None or not past(str(v), until)]


def page_top(records: list[dict[str, Any]], steps: tuple[Step, ...]) -> Any:
    """The largest value at ``steps`` over ``records`` (text when their types mix), or
    ``None`` when no record has one."""
    if len(steps) == 1 and isinstance(steps[0], str):
        key = steps[0]
        values = [v for r in records if (v := r.get(key)) is not None]
    else:
        values = [v for r in records if (v := get_path(r, steps)) is not None]
    if not values:
        return None
    try:
        return max(values)
    except TypeError:  # mixed types on one page: compare as text
        return max(map(str, values))


def larger(a: Any, b: Any) -> Any:
    """The larger of two pages' tops; as text when their types differ. ``None`` is no value."""
    if a is None:
        return b
    if b is None:
        return a
    try:
        return b if b > a else a
    except TypeError:
        return b if str(b) > str(a) else a


class MaxTracker:
    """The largest value of the incremental field over every landed page: each page's
    top (:attr:`Landed.top`) merged in turn."""

    def __init__(self) -> None:
        self.best: Any = None

    def merge(self, top: Any) -> None:
        self.best = larger(self.best, top)

    def value(self) -> str | None:
        if self.best is None:
            return None
        return self.best if isinstance(self.best, str) else str(self.best)
