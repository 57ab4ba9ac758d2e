"""The state store and its ledger, rule by rule, on an in-memory store: exact entries,
exact refusals, and the pending intent that keeps the cursor in step with the commits
(scripts/mutate state)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from foundry_dsl.errors import StorageError
from foundry_dsl.storage.state import StateStore, committed, settle, with_pending
from tests.storage.memory_backend import MemoryBackend

ENTRY = "_state/system=shop/table=orders.json"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def store(entry: Any = None, raw: bytes | None = None) -> StateStore:
    backend = MemoryBackend("lake/", {})
    if entry is not None:
        backend.files[ENTRY] = json.dumps(entry).encode()
    if raw is not None:
        backend.files[ENTRY] = raw
    return StateStore(backend)


def refusal(s: StateStore) -> StorageError:
    with pytest.raises(StorageError) as info:
        s.get("shop", "orders")
    return info.value


# --- the entry ------------------------------------------------------------------------------


def test_the_entry_is_indented_sorted_json_with_the_cursor_given() -> None:
    s = store()
    s.set_cursor("shop", "orders", "42", rows=3, updated_at="then")
    raw = s.backend.files[ENTRY]  # type: ignore[attr-defined]
    assert raw == b'{\n  "cursor": "42",\n  "rows": 3,\n  "updated_at": "then"\n}'


def test_set_cursor_stamps_the_utc_time_to_the_second() -> None:
    s = store()
    s.set_cursor("shop", "orders", None)
    entry = s.get("shop", "orders")
    assert entry is not None and entry["cursor"] is None
    assert STAMP.match(entry["updated_at"]), entry


def test_put_replaces_the_whole_entry() -> None:
    s = store({"cursor": "1", "rows": 9})
    s.put("shop", "orders", {"cursor": "2"})
    assert s.backend.files[ENTRY] == b'{\n  "cursor": "2"\n}'  # type: ignore[attr-defined]


def test_put_of_none_removes_the_entry() -> None:
    s = store({"cursor": "1"})
    s.put("shop", "orders", None)
    assert s.get("shop", "orders") is None
    assert ENTRY not in s.backend.files  # type: ignore[attr-defined]


def test_the_url_joins_the_root_without_a_double_slash() -> None:
    assert store().url("shop", "orders") == f"memory://lake/{ENTRY}"


@pytest.mark.parametrize(("system", "table", "kind", "value"),
                         [("a/b", "t", "system", "a/b"), ("s", "..", "table", "..")])
def test_names_that_could_leave_the_state_folder_are_refused(
    system: str, table: str, kind: str, value: str,
) -> None:
    with pytest.raises(StorageError) as info:
        store().path(system, table)
    assert info.value.message == f"invalid {kind} name '{value}' for the state store"


@pytest.mark.parametrize("raw", [b"{not json", b"[1]", b'"text"'])
def test_an_entry_that_is_no_json_object_says_how_to_reset(raw: bytes) -> None:
    error = refusal(store(raw=raw))
    assert error.message == (
        f"pipeline shop.orders: the cursor state at memory://lake/{ENTRY} is not valid JSON; "
        "run `foundry state reset shop.orders` to start from the initial cursor"
    )


FIX = ('write that value as a JSON string, in quotes ("42", not 42), or run '
       "`foundry state reset shop.orders -f FILE` to start from the initial cursor")


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"cursor": 42}, "cursor = 42 (a number)"),
        ({"cursor": "1", "partition": None}, "partition = null"),
        ({"cursor": "1", "run_id": 7}, "run_id = 7 (a number)"),
        ({"cursor": "1", "run_id": 1.5}, "run_id = 1.5 (a number)"),
        ({"cursor": False}, "cursor = false (a boolean)"),
        ({"cursor": ["a"]}, 'cursor = ["a"] (a list)'),
        ({"cursor": {"a": 1}}, 'cursor = {"a": 1} (an object)'),
        # shown to 60 characters at most
        ({"cursor": "1", "partition": ["z" * 70]}, 'partition = ["' + "z" * 55 + "... (a list)"),
    ],
)
def test_a_field_runs_read_that_is_no_string_is_refused(entry: dict[str, Any], problem: str) -> None:
    error = refusal(store(entry))
    assert error.message == (
        f"pipeline shop.orders: the cursor state at memory://lake/{ENTRY} holds {problem}, "
        f"where a string is expected; {FIX}"
    )
    assert error.transient is False


@pytest.mark.parametrize(
    ("pending", "problem"),
    [
        ("run-1", 'pending = "run-1" (str), where an object (or null) is expected'),
        ([], "pending = [] (a list), where an object (or null) is expected"),
        ({"partition": "p", "cursor": "1"}, "pending.run_id = null, where a string is expected"),
        ({"run_id": "r", "cursor": "1"}, "pending.partition = null, where a string is expected"),
        ({"run_id": "r", "partition": "p", "cursor": 3},
         "pending.cursor = 3 (a number), where a string is expected"),
    ],
)
def test_a_pending_intent_of_the_wrong_shape_is_refused(pending: Any, problem: str) -> None:
    error = refusal(store({"cursor": "1", "pending": pending}))
    assert error.message.endswith(f"holds {problem}; {FIX}")


def test_a_pending_intent_without_a_cursor_yet_is_accepted() -> None:
    entry = {"cursor": None, "pending": {"run_id": "r", "partition": "p", "cursor": None}}
    assert store(entry).get("shop", "orders") == entry


def test_a_null_pending_and_figures_of_any_type_are_accepted() -> None:
    entry = {"cursor": "5", "pending": None, "rows": 12, "partition": "p", "run_id": "r"}
    assert store(entry).get("shop", "orders") == entry


# --- the ledger -----------------------------------------------------------------------------


def test_the_intent_is_added_beside_the_entry_and_the_entry_is_not_changed() -> None:
    state = {"cursor": "10", "partition": "dt=1"}
    out = with_pending(state, run_id="r2", partition="dt=2", cursor="20")
    assert out == {"cursor": "10", "partition": "dt=1",
                   "pending": {"run_id": "r2", "partition": "dt=2", "cursor": "20"}}
    assert state == {"cursor": "10", "partition": "dt=1"}
    assert with_pending(None, run_id="r", partition="p", cursor=None) == {
        "pending": {"run_id": "r", "partition": "p", "cursor": None}}


def test_a_commit_past_the_high_water_moves_it_and_drops_the_intent() -> None:
    state = {"cursor": "9", "partition": "dt=1", "run_id": "r1", "start_cursor": "0",
             "pending": {"run_id": "r2"}, "keep": "me"}
    out = committed(state, run_id="r2", partition="dt=2", cursor="10", rows=5)
    stamp = out.pop("updated_at")
    assert STAMP.match(stamp)
    assert out == {"cursor": "10", "partition": "dt=2", "run_id": "r2", "rows": 5, "keep": "me"}


@pytest.mark.parametrize("cursor", ["8", "9", None])
def test_a_commit_not_past_the_high_water_leaves_it(cursor: str | None) -> None:
    state = {"cursor": "9", "partition": "dt=2", "run_id": "r2"}
    out = committed(state, run_id="r1", partition="dt=1", cursor=cursor, rows=5)
    out.pop("updated_at")
    assert out == {"cursor": "9", "partition": "dt=2", "run_id": "r2"}


def test_the_first_commit_with_a_cursor_sets_it() -> None:
    out = committed(None, run_id="r1", partition="dt=1", cursor="3")
    out.pop("updated_at")
    assert out == {"cursor": "3", "partition": "dt=1", "run_id": "r1"}


def test_settle_without_an_intent_changes_nothing() -> None:
    state = {"cursor": "9"}
    assert settle(state, lambda p: pytest.fail("no commit to read")) == (state, False)
    assert settle(None, lambda p: pytest.fail("no commit to read")) == (None, False)
    odd = {"cursor": "9", "pending": "x"}
    assert settle(odd, lambda p: pytest.fail("no commit to read")) == (odd, False)


def test_settle_finishes_an_intent_whose_commit_landed() -> None:
    state = {"cursor": "9", "partition": "dt=1",
             "pending": {"run_id": "r2", "partition": "dt=2", "cursor": "12"}}
    read: list[str] = []
    out, changed = settle(state, lambda p: read.append(p) or {"run_id": "r2"})
    assert changed is True and read == ["dt=2"]
    assert out is not None
    out.pop("updated_at")
    assert out == {"cursor": "12", "partition": "dt=2", "run_id": "r2",
                   "settled_from_commit": True}


def test_settle_of_a_landed_commit_without_a_cursor_keeps_the_high_water() -> None:
    state = {"cursor": "9", "pending": {"run_id": "r2", "partition": "dt=2", "cursor": None}}
    out, changed = settle(state, lambda p: {"run_id": "r2"})
    assert changed and out is not None and out["cursor"] == "9" and "pending" not in out


@pytest.mark.parametrize("meta", [None, {"run_id": "r1"}, {}])
def test_settle_drops_an_intent_no_commit_matches(meta: dict[str, Any] | None) -> None:
    state = {"cursor": "9", "pending": {"run_id": "r2", "partition": "dt=2", "cursor": "12"}}
    assert settle(state, lambda p: meta) == ({"cursor": "9"}, True)


def test_settle_of_a_lone_unmatched_intent_leaves_no_entry() -> None:
    state = {"pending": {"run_id": "r2", "partition": "dt=2", "cursor": "12"}}
    assert settle(state, lambda p: None) == (None, True)


# --- more edges the mutants showed ----------------------------------------------------------


def test_put_writes_sorted_keys_and_values_json_cannot_hold_as_text() -> None:
    import datetime as dt

    s = store()
    s.put("shop", "orders", {"updated_at": dt.date(2025, 1, 12), "cursor": "2"})
    assert s.backend.files[ENTRY] == (  # type: ignore[attr-defined]
        b'{\n  "cursor": "2",\n  "updated_at": "2025-01-12"\n}')


def test_set_cursor_writes_figures_json_cannot_hold_as_text() -> None:
    import datetime as dt

    s = store()
    s.set_cursor("shop", "orders", "2", day=dt.date(2025, 1, 12), updated_at="then")
    assert s.backend.files[ENTRY] == (  # type: ignore[attr-defined]
        b'{\n  "cursor": "2",\n  "day": "2025-01-12",\n  "updated_at": "then"\n}')


def test_the_url_keeps_a_root_that_ends_in_any_letter() -> None:
    assert StateStore(MemoryBackend("lakeX", {})).url("shop", "orders") == (
        f"memory://lakeX/{ENTRY}")


@pytest.mark.parametrize(("length", "shown"), [(60, None), (61, 57)])
def test_a_refused_value_is_shown_whole_up_to_60_characters(length: int, shown: int | None) -> None:
    value = ["z" * (length - 4)]  # ["zz...z"]: 4 characters of brackets and quotes
    text = json.dumps(value)
    assert len(text) == length
    expected = text if shown is None else text[:shown] + "..."
    error = refusal(store({"cursor": "1", "partition": value}))
    assert f"holds partition = {expected} (a list), where" in error.message


def test_a_later_commit_does_not_carry_the_settled_flag_of_the_cursor_it_replaces() -> None:
    settled = {"cursor": "12", "partition": "dt=2", "run_id": "r2", "settled_from_commit": True}
    out = committed(settled, run_id="r3", partition="dt=3", cursor="15")
    out.pop("updated_at")
    assert out == {"cursor": "15", "partition": "dt=3", "run_id": "r3"}


def test_a_replay_that_leaves_the_cursor_keeps_how_it_was_set() -> None:
    settled = {"cursor": "12", "partition": "dt=2", "run_id": "r2", "settled_from_commit": True}
    out = committed(settled, run_id="r3", partition="dt=1", cursor="8")
    out.pop("updated_at")
    assert out == settled
