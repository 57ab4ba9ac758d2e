"""Window rules the table tests in test_windows.py leave open: exact texts, what the
plan shows, and the edges of "older" (scripts/mutate state)."""

from __future__ import annotations

from typing import Any

import pytest

from foundry_dsl.errors import PlanError
from foundry_dsl.planner.windows import (
    BackfillError,
    Window,
    WindowRequest,
    committed_window,
    resolve,
)

D1 = "system=s/table=t/dt=2025-03-01/"
D2 = "system=s/table=t/dt=2025-03-02/"


def _resolve(partition: str, state: dict[str, Any] | None = None,
             committed: dict[str, Any] | None = None, env_cursor: str | None = None,
             **request: Any) -> Window:
    return resolve(pipeline="s.t", partition=partition, state=state, committed=committed,
                   request=WindowRequest(**request), env_cursor=env_cursor)


@pytest.mark.parametrize(
    ("window", "text"),
    [
        (Window(None, None, "new"), "(initial, ..]: rows after the newest commit"),
        (Window("5", None, "extend"), "(5, ..]: its committed rows again, and what arrived since"),
        (Window("5", "9", "replay"), "(5, 9]: exactly its committed rows"),
        (Window("5", "9", "explicit"), "(5, 9]: the window given on the command line"),
        (Window(None, "9", "full-refresh"),
         "(initial, 9]: everything, from the initial cursor (--full-refresh)"),
        (Window(None, None, "replay", empty=True),
         "nothing: the partition holds no rows and later partitions hold the rest"),
    ],
)
def test_the_plan_describes_each_kind_of_window(window: Window, text: str) -> None:
    assert window.describe() == text


def test_a_window_in_json_has_its_ends_and_kind() -> None:
    assert Window("5", None, "extend").to_json() == {"start": "5", "end": None, "kind": "extend"}


def test_incoherent_requests_are_refused_with_exact_texts() -> None:
    with pytest.raises(PlanError) as info:
        WindowRequest(full_refresh=True, start="5").check()
    assert info.value.message == "--full-refresh reads from the initial cursor; it takes no --from"
    with pytest.raises(PlanError) as info:
        WindowRequest(end="5").check()
    assert info.value.message == (
        "--to needs --from (or --full-refresh): a window has two ends, "
        "e.g. --from 2025-03-01T00:00:00Z --to 2025-03-02T00:00:00Z"
    )
    with pytest.raises(PlanError) as info:
        WindowRequest(start="10", end="9").check()
    assert info.value.message == "--from '10' is after --to '9'"


@pytest.mark.parametrize(
    "request_args",
    [{}, {"full_refresh": True, "end": "5"}, {"start": "5", "end": "5"}, {"start": "5"}],
)
def test_coherent_requests_pass_unchanged(request_args: dict[str, Any]) -> None:
    req = WindowRequest(**request_args)
    assert req.check() is req


def test_a_request_is_explicit_with_a_start_or_a_full_refresh() -> None:
    assert [WindowRequest().explicit, WindowRequest(start="1").explicit,
            WindowRequest(full_refresh=True).explicit] == [False, True, True]


@pytest.mark.parametrize(
    ("meta", "window"),
    [
        (None, None),
        ({}, None),
        ({"window": None}, None),
        ({"window": {"start": "1"}}, None),
        ({"window": {"end": "1"}}, None),
        ({"window": {"start": None, "end": None}}, (None, None)),
        ({"window": {"start": 1, "end": 20}}, ("1", "20")),
    ],
)
def test_the_committed_window_is_read_as_text(
    meta: dict[str, Any] | None, window: tuple[str | None, str | None] | None,
) -> None:
    assert committed_window(meta) == window


def test_full_refresh_keeps_the_requested_end() -> None:
    assert _resolve(D1, full_refresh=True, end="9") == Window(None, "9", "full-refresh")


def test_an_explicit_window_wins_over_the_cursor_variable() -> None:
    assert _resolve(D1, env_cursor="3", start="5", end="9") == Window("5", "9", "explicit")


def test_the_cursor_variable_opens_an_explicit_window() -> None:
    state = {"cursor": "150", "partition": D2}
    assert _resolve(D1, state, env_cursor="3") == Window("3", None, "explicit")


def test_a_commit_without_a_window_is_refused_with_the_way_out() -> None:
    with pytest.raises(BackfillError) as info:
        _resolve(D1, {"cursor": "5", "partition": D1}, {"total_records": 1})
    assert info.value.message == (
        f"pipeline s.t: partition {D1} was committed without a cursor window (by an older "
        "foundry or the original tool), so a rerun cannot tell which rows it holds; give "
        "them: --from CURSOR [--to CURSOR], or --full-refresh"
    )


def test_replaying_an_empty_commit_after_a_start_selects_nothing_after_it() -> None:
    committed = {"window": {"start": "7", "end": None}}
    assert _resolve(D1, {"cursor": "9", "partition": D2}, committed) == Window(
        "7", "7", "replay", empty=False)


def test_an_uncommitted_older_date_is_refused_naming_the_newest_commit() -> None:
    with pytest.raises(BackfillError) as info:
        _resolve(D1, {"cursor": "150", "partition": D2})
    assert info.value.message == (
        f"pipeline s.t: partition {D1} has no commit and is older than the newest commit "
        f"({D2}, cursor 150); a run now would land rows that belong to later dates. This is "
        "a backfill: say which rows it holds with --from CURSOR [--to CURSOR], or reload "
        "everything with --full-refresh"
    )


def test_the_newest_partition_itself_uncommitted_is_new_from_the_high_water() -> None:
    assert _resolve(D2, {"cursor": "150", "partition": D2}) == Window("150", None, "new")


def test_a_newer_date_is_new_from_the_high_water() -> None:
    assert _resolve(D2, {"cursor": "150", "partition": D1}) == Window("150", None, "new")


def test_a_number_cursor_in_the_state_is_read_as_text() -> None:
    assert _resolve(D2, {"cursor": 150, "partition": D1}) == Window("150", None, "new")


@pytest.mark.parametrize(
    "partition",
    [
        "system=s/table=t/",  # another layout: fewer levels
        "system=s/table=t/dt=2025-03-01/hour=01/",  # another layout: more levels
        "system=s/table=t/batch_id=a/",
    ],
)
def test_partitions_of_another_layout_or_an_id_have_no_order(partition: str) -> None:
    state = {"cursor": "150", "partition": "system=s/table=t/batch_id=b/"
             if "batch_id" in partition else D2}
    assert _resolve(partition, state) == Window("150", None, "new")


def test_a_state_without_a_partition_orders_nothing() -> None:
    assert _resolve(D1, {"cursor": "150"}) == Window("150", None, "new")


def test_rerunning_the_newest_partition_extends_from_its_own_start() -> None:
    committed = {"window": {"start": "50", "end": "90"}}
    assert _resolve(D2, {"cursor": "90", "partition": D2}, committed) == Window(
        "50", None, "extend")
