"""The window rule: which cursors a run of a partition extracts."""

from __future__ import annotations

from typing import Any

import pytest

from foundry_dsl.errors import PlanError
from foundry_dsl.planner.windows import BackfillError, Window, WindowRequest, resolve

D1 = "system=s/table=t/dt=2025-03-01/"
D2 = "system=s/table=t/dt=2025-03-02/"
D3 = "system=s/table=t/dt=2025-03-03/"


def _commit(start: str | None, end: str | None) -> dict[str, Any]:
    return {"window": {"start": start, "end": end, "kind": "new"}, "total_records": 1}


def _resolve(partition: str, state: dict[str, Any] | None = None,
             committed: dict[str, Any] | None = None, **request: Any) -> Window:
    return resolve(pipeline="s.t", partition=partition, state=state, committed=committed,
                   request=WindowRequest(**request))


def test_the_first_run_extracts_everything_from_the_initial_cursor() -> None:
    assert _resolve(D1) == Window(None, None, "new")


def test_a_new_date_extracts_what_came_after_the_newest_commit() -> None:
    state = {"cursor": "99", "partition": D1}
    assert _resolve(D2, state) == Window("99", None, "new")


def test_rerunning_the_newest_partition_extends_its_window() -> None:
    state = {"cursor": "99", "partition": D1}
    assert _resolve(D1, state, _commit(None, "99")) == Window(None, None, "extend")


def test_rerunning_an_older_partition_replays_exactly_its_window() -> None:
    state = {"cursor": "150", "partition": D2}
    assert _resolve(D1, state, _commit(None, "99")) == Window(None, "99", "replay")


def test_a_partition_the_state_does_not_name_is_replayed_not_extended() -> None:
    # a cursor set by hand (no partition): extending would take later partitions' rows
    assert _resolve(D1, {"cursor": "150"}, _commit("10", "99")) == Window("10", "99", "replay")


def test_replaying_an_empty_commit_selects_nothing_after_its_start() -> None:
    state = {"cursor": "150", "partition": D2}
    assert _resolve(D1, state, _commit("50", None)) == Window("50", "50", "replay")


def test_replaying_an_empty_first_commit_keeps_the_partition() -> None:
    state = {"cursor": "150", "partition": D2}
    window = _resolve(D1, state, _commit(None, None))
    assert window.empty and window.kind == "replay"


def test_an_uncommitted_date_older_than_the_newest_commit_is_refused() -> None:
    state = {"cursor": "150", "partition": D3}
    with pytest.raises(BackfillError) as err:
        _resolve(D2, state)
    assert "dt=2025-03-02" in err.value.message
    assert "--from CURSOR [--to CURSOR]" in err.value.message
    assert "--full-refresh" in err.value.message


def test_an_explicit_window_is_used_as_given() -> None:
    state = {"cursor": "150", "partition": D3}
    assert _resolve(D2, state, start="99", end="120") == Window("99", "120", "explicit")


def test_full_refresh_starts_from_the_initial_cursor() -> None:
    state = {"cursor": "150", "partition": D3}
    assert _resolve(D2, state, full_refresh=True) == Window(None, None, "full-refresh")


def test_the_cursor_variable_counts_as_an_explicit_start() -> None:
    state = {"cursor": "150", "partition": D3}
    got = resolve(pipeline="s.t", partition=D2, state=state, committed=None,
                  request=WindowRequest(), env_cursor="42")
    assert got == Window("42", None, "explicit")


def test_a_commit_without_a_window_needs_an_explicit_one_once_a_cursor_exists() -> None:
    with pytest.raises(BackfillError, match="committed without a cursor window"):
        _resolve(D1, {"cursor": "150", "partition": D2}, {"total_records": 5})


def test_a_commit_without_a_window_of_a_pipeline_without_cursor_is_simply_new() -> None:
    assert _resolve(D1, None, {"total_records": 5}) == Window(None, None, "new")


def test_batch_id_partitions_have_no_order_so_each_is_new() -> None:
    newest = "system=s/table=t/dt=2025-03-03/batch_id=zzz/"
    state = {"cursor": "150", "partition": newest}
    assert _resolve("system=s/table=t/dt=2025-03-03/batch_id=aaa/", state) == Window(
        "150", None, "new"
    )


def test_hours_order_within_a_day() -> None:
    state = {"cursor": "150", "partition": "system=s/table=t/dt=2025-03-03/hour=14/"}
    with pytest.raises(BackfillError):
        _resolve("system=s/table=t/dt=2025-03-03/hour=09/", state)


def test_numeric_cursors_compare_as_numbers() -> None:
    with pytest.raises(PlanError, match="is after --to"):
        WindowRequest(start="10", end="9").check()
    assert WindowRequest(start="9", end="10").check().start == "9"


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"end": "5"}, "--to needs --from"),
        ({"full_refresh": True, "start": "5"}, "takes no --from"),
    ],
)
def test_incoherent_requests_are_refused(request_args: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        WindowRequest(**request_args).check()
