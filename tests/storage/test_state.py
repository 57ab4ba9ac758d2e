"""The cursor state store, beside the data under the storage root."""

from __future__ import annotations

import json

import pytest

from foundry_dsl.errors import StorageError
from foundry_dsl.storage.registry import backend_for
from foundry_dsl.storage.state import StateStore
from tests.fixtures.storage_services import Service, make_pipeline


@pytest.fixture(params=["local_storage", "moto_s3"])
def store(request: pytest.FixtureRequest, prefix: str) -> StateStore:
    service: Service = request.getfixturevalue(request.param)
    return StateStore(backend_for(make_pipeline(service.storage(prefix))))


def test_a_pipeline_without_a_stored_cursor_gets_none(store: StateStore) -> None:
    assert store.get("shop", "orders") is None


def test_set_cursor_stores_the_cursor_with_its_figures(store: StateStore) -> None:
    store.set_cursor("shop", "orders", "2025-01-12T14:00:00Z", batch_id="b1", rows=42,
                     updated_at="2025-01-12T14:05:00+00:00")
    assert store.get("shop", "orders") == {
        "cursor": "2025-01-12T14:00:00Z",
        "batch_id": "b1",
        "rows": 42,
        "updated_at": "2025-01-12T14:05:00+00:00",
    }


def test_set_cursor_stamps_the_time_when_not_given(store: StateStore) -> None:
    store.set_cursor("shop", "orders", "5")
    state = store.get("shop", "orders")
    assert state is not None
    assert state["updated_at"].endswith("+00:00")


def test_the_entry_lives_under_the_hidden_state_folder(store: StateStore) -> None:
    store.set_cursor("shop", "orders", "5")
    assert store.backend.list_files("_state") == ["_state/system=shop/table=orders.json"]


def test_set_cursor_replaces_the_previous_entry(store: StateStore) -> None:
    store.set_cursor("shop", "orders", "1", rows=10)
    store.set_cursor("shop", "orders", "2", updated_at="t")
    assert store.get("shop", "orders") == {"cursor": "2", "updated_at": "t"}


def test_tables_keep_separate_cursors(store: StateStore) -> None:
    store.set_cursor("shop", "orders", "1")
    store.set_cursor("shop", "customers", "9")
    assert store.get("shop", "orders")["cursor"] == "1"  # type: ignore[index]
    assert store.get("shop", "customers")["cursor"] == "9"  # type: ignore[index]


def test_reset_forgets_the_cursor(store: StateStore) -> None:
    store.set_cursor("shop", "orders", "1")
    store.reset("shop", "orders")
    assert store.get("shop", "orders") is None


def test_a_null_cursor_is_stored_as_null(store: StateStore) -> None:
    store.set_cursor("shop", "orders", None, rows=0)
    raw = store.backend.read_bytes("_state/system=shop/table=orders.json")
    assert raw is not None
    assert json.loads(raw)["cursor"] is None


def test_a_corrupt_entry_tells_how_to_reset(store: StateStore) -> None:
    store.backend.write_bytes("_state/system=shop/table=orders.json", b"{not json")
    with pytest.raises(StorageError, match=r"run `foundry state reset shop.orders`"):
        store.get("shop", "orders")


def test_names_that_would_escape_the_state_folder_are_refused(store: StateStore) -> None:
    with pytest.raises(StorageError, match=r"invalid table name '\.\./x'"):
        store.set_cursor("shop", "../x", "1")
