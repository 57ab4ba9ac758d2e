"""The page-loop check's stand-in for a worker's records compares as the records do."""

from __future__ import annotations

from typing import Any

from foundry_dsl.sources.http.landing import PageRecords, page_to_arrow


def sent(records: list[dict[str, Any]], parse_dates: bool = True) -> PageRecords:
    """``records`` as a worker sends them."""
    batch = page_to_arrow(records, parse_dates=parse_dates) if records else None
    return PageRecords(records, batch, parse_dates=parse_dates)


PAGE = [{"id": i, "at": f"2024-01-0{1 + i % 9}", "name": f"n{i}"} for i in range(50)]


def test_two_workers_copies_of_one_page_are_equal() -> None:
    assert sent(PAGE) == sent([dict(r) for r in PAGE])


def test_a_workers_page_equals_the_same_records_read_here() -> None:
    assert sent(PAGE) == [dict(r) for r in PAGE]
    assert [dict(r) for r in PAGE] == sent(PAGE)


def test_pages_that_share_their_first_record_but_not_the_rest_differ() -> None:
    other = [*PAGE[:-1], {"id": 999, "at": "2024-01-01", "name": "n999"}]
    assert sent(PAGE) != sent(other)
    assert sent(PAGE) != other


def test_pages_of_other_lengths_differ() -> None:
    assert sent(PAGE) != sent(PAGE[:-1])
    assert sent(PAGE) != PAGE[:-1]


def test_the_same_records_with_their_keys_in_another_order_are_equal() -> None:
    reordered = [{"name": r["name"], "at": r["at"], "id": r["id"]} for r in PAGE]
    assert sent(PAGE) == sent(reordered)


def test_empty_pages_are_equal_and_differ_from_any_other() -> None:
    assert sent([]) == sent([])
    assert sent([]) == []
    assert sent([]) != sent(PAGE)


def test_it_has_the_records_length() -> None:
    assert len(sent(PAGE)) == 50
    assert not sent([])


def test_records_read_here_are_converted_as_the_worker_converted_its_own() -> None:
    # a source that lands dates as text: the page read here must be converted the same
    # way, or its dates would be typed and the same page would pass for another one
    assert sent(PAGE, parse_dates=False) == [dict(r) for r in PAGE]
