"""API source: incremental loads send the stored cursor and hand back max(field)."""

from __future__ import annotations

from typing import Any

from foundry_dsl import ir
from foundry_dsl.sources.base import NewCursor
from tests.fixtures.api_server import (
    ApiServer,
    run,
    source,
)


def change(i: int, at: str, v: int = 1) -> dict[str, Any]:
    return {"id": i, "updated_at": at, "version": v}


def changes_source(api: ApiServer, initial: str | None = None) -> ir.ApiSource:
    return source(api.url, "changes", records="data",
                  paginate=ir.OffsetPagination(limit=2, total_path="total"),
                  incremental=ir.ApiIncremental(field="updated_at", param="since",
                                                initial=initial))


def landed(api: ApiServer, cursor: str | None) -> tuple[list[tuple[int, int]], NewCursor | None]:
    tables, new = run(changes_source(api), cursor)
    return [(r["id"], r["version"]) for t in tables for r in t.to_pylist()], new


def test_the_stored_cursor_fills_the_param_on_every_page(api: ApiServer) -> None:
    api.changes = [change(i, f"2024-01-0{i}") for i in range(1, 8)]
    got, new = landed(api, "2024-01-02")
    assert got == [(3, 1), (4, 1), (5, 1), (6, 1), (7, 1)]
    assert {r.query["since"] for r in api.log} == {"2024-01-02"}
    assert new == NewCursor("2024-01-07")


def test_initial_is_sent_when_there_is_no_stored_cursor(api: ApiServer) -> None:
    api.changes = [change(1, "2024-01-01"), change(2, "2024-01-05")]
    tables, new = run(changes_source(api, initial="2024-01-03"))
    assert [r["id"] for t in tables for r in t.to_pylist()] == [2]
    assert api.log[0].query["since"] == "2024-01-03"
    assert new == NewCursor("2024-01-05")


def test_without_cursor_or_initial_the_param_is_not_sent(api: ApiServer) -> None:
    api.changes = [change(1, "2024-01-01")]
    landed(api, None)
    assert "since" not in api.log[0].query


def test_nothing_new_hands_back_no_cursor_so_the_old_one_is_kept(api: ApiServer) -> None:
    api.changes = [change(1, "2024-01-01")]
    assert landed(api, "2024-01-01") == ([], NewCursor(None))


def test_numeric_cursor_field_is_compared_as_numbers() -> None:
    from foundry_dsl.sources.http.landing import MaxTracker, page_top
    from foundry_dsl.sources.http.records import compile_path

    t = MaxTracker()
    t.merge(page_top([{"seq": 9}, {"seq": 10}], compile_path("seq")))
    t.merge(page_top([{"seq": 2}, {"seq": None}], compile_path("seq")))
    assert t.value() == "10"


def test_three_runs_land_only_new_or_updated_records(api: ApiServer) -> None:
    api.changes = [change(i, f"2024-01-01T00:00:0{i}Z") for i in range(5)]
    first, c1 = landed(api, None)
    assert first == [(0, 1), (1, 1), (2, 1), (3, 1), (4, 1)]
    assert c1 == NewCursor("2024-01-01T00:00:04Z")

    api.changes[1] = change(1, "2024-01-02T00:00:00Z", v=2)  # updated
    api.changes.append(change(5, "2024-01-02T00:00:01Z"))  # new
    second, c2 = landed(api, c1.value)
    assert second == [(1, 2), (5, 1)]
    assert c2 == NewCursor("2024-01-02T00:00:01Z")

    third, c3 = landed(api, c2.value)
    assert third == [] and c3 == NewCursor(None)


def test_a_replayed_window_drops_records_past_its_end(api: ApiServer) -> None:
    api.changes = [change(i, f"2024-01-0{i}") for i in range(1, 8)]
    tables, new = run(changes_source(api), "2024-01-02", until="2024-01-05")
    assert [r["id"] for t in tables for r in t.to_pylist()] == [3, 4, 5]
    assert new == NewCursor("2024-01-05")
    assert "until" not in api.log[0].query  # this API was given no until_param


def test_a_replayed_window_end_goes_to_the_until_param_when_the_api_has_one(api: ApiServer) -> None:
    api.changes = [change(i, f"2024-01-0{i}") for i in range(1, 8)]
    src = source(api.url, "changes", records="data",
                 paginate=ir.OffsetPagination(limit=2, total_path="total"),
                 incremental=ir.ApiIncremental(field="updated_at", param="since",
                                               until_param="until"))
    tables, new = run(src, "2024-01-02", until="2024-01-05")
    assert new == NewCursor("2024-01-05")
    assert [r["id"] for t in tables for r in t.to_pylist()] == [3, 4, 5]
    assert {r.query["until"] for r in api.log} == {"2024-01-05"}
    assert len(api.log) == 2  # 3 records in pages of 2: the server did the bounding
