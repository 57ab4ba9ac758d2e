"""A hand-edited state file whose values are not the strings runs read is refused.

The cursor fills a request parameter or a query's bound: a number, list or object
stringified there would extract other rows than the user meant, without a word.
The error names the file where the user can open it, and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from foundry_dsl.errors import StorageError
from foundry_dsl.storage.local import local_backend
from foundry_dsl.storage.registry import backend_for
from foundry_dsl.storage.state import StateStore
from tests.fixtures.storage_services import Service, make_pipeline

ENTRY = "_state/system=shop/table=orders.json"
FIX = (
    "write that value as a JSON string, in quotes (\"42\", not 42), or run "
    "`foundry state reset shop.orders -f FILE` to start from the initial cursor"
)


def _local_store(tmp_path: Path, entry: Any) -> StateStore:
    store = StateStore(local_backend(str(tmp_path / "lake")))
    store.backend.write_bytes(ENTRY, json.dumps(entry).encode())
    return store


def _message(store: StateStore) -> str:
    with pytest.raises(StorageError) as info:
        store.get("shop", "orders")
    assert info.value.transient is False
    return info.value.message


@pytest.mark.parametrize(
    ("cursor", "shown"),
    [
        (42, "42 (a number)"),
        (4.5, "4.5 (a number)"),
        (True, "true (a boolean)"),
        (["2025-01-12", "2025-01-13"], '["2025-01-12", "2025-01-13"] (a list)'),
        ({"since": "2025-01-12"}, '{"since": "2025-01-12"} (an object)'),
    ],
    ids=["int", "float", "bool", "list", "object"],
)
def test_a_cursor_that_is_not_a_string_is_refused_with_the_file_and_the_fix(
    tmp_path: Path, cursor: Any, shown: str
) -> None:
    store = _local_store(tmp_path, {"cursor": cursor, "partition": "dt=2025-01-12"})
    where = tmp_path / "lake" / "_state" / "system=shop" / "table=orders.json"
    assert _message(store) == (
        f"pipeline shop.orders: the cursor state at {where} holds cursor = {shown}, "
        f"where a string is expected; {FIX}"
    )


def test_the_file_named_in_the_error_is_the_one_to_edit(tmp_path: Path) -> None:
    store = _local_store(tmp_path, {"cursor": 42})
    path = _message(store).split("the cursor state at ", 1)[1].split(" holds ", 1)[0]
    assert json.loads(Path(path).read_text()) == {"cursor": 42}


def test_a_null_cursor_is_no_cursor_yet_and_accepted(tmp_path: Path) -> None:
    store = _local_store(tmp_path, {"cursor": None, "rows": 0})
    assert store.get("shop", "orders") == {"cursor": None, "rows": 0}


def test_figures_beside_the_cursor_may_be_numbers(tmp_path: Path) -> None:
    entry = {"cursor": "42", "partition": "dt=2025-01-12", "run_id": "r1", "records": 7}
    assert _local_store(tmp_path, entry).get("shop", "orders") == entry


def test_a_null_partition_is_refused(tmp_path: Path) -> None:
    store = _local_store(tmp_path, {"cursor": "42", "partition": None})
    assert "holds partition = null, where a string is expected" in _message(store)


def test_a_numeric_run_id_is_refused(tmp_path: Path) -> None:
    store = _local_store(tmp_path, {"cursor": "42", "run_id": 7})
    assert "holds run_id = 7 (a number), where a string is expected" in _message(store)


def test_a_pending_cursor_that_is_not_a_string_is_refused(tmp_path: Path) -> None:
    pending = {"run_id": "r1", "partition": "dt=2025-01-12", "cursor": 43}
    store = _local_store(tmp_path, {"cursor": "42", "pending": pending})
    assert "holds pending.cursor = 43 (a number), where a string is expected" in _message(store)


def test_a_pending_entry_without_its_run_id_is_refused(tmp_path: Path) -> None:
    pending = {"partition": "dt=2025-01-12", "cursor": "43"}
    store = _local_store(tmp_path, {"cursor": "42", "pending": pending})
    assert "holds pending.run_id = null, where a string is expected" in _message(store)


def test_a_pending_entry_that_is_not_an_object_is_refused(tmp_path: Path) -> None:
    store = _local_store(tmp_path, {"cursor": "42", "pending": ["r1"]})
    assert 'holds pending = ["r1"] (a list), where an object (or null) is expected' in (
        _message(store)
    )


def test_reset_removes_a_refused_entry(tmp_path: Path) -> None:
    store = _local_store(tmp_path, {"cursor": 42})
    store.reset("shop", "orders")
    assert store.get("shop", "orders") is None


def test_on_an_object_store_the_error_names_the_file_by_its_url(
    moto_s3: Service, prefix: str
) -> None:
    store = StateStore(backend_for(make_pipeline(moto_s3.storage(prefix))))
    store.backend.write_bytes(ENTRY, json.dumps({"cursor": [1]}).encode())
    assert _message(store).startswith(
        f"pipeline shop.orders: the cursor state at s3://foundry/{prefix}/{ENTRY} holds cursor"
    )
