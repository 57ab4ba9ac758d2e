"""A failed run says whether its partition was committed, by what happened, not by task name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foundry_dsl.errors import StorageError
from foundry_dsl.storage.state import StateStore
from tests.executor.helpers import apply, custom_pipeline, partition

SOURCE = """
class Source:
    def extract(self, ctx):
        yield [{"x": 1}]
"""

WITH_CURSOR = """
from foundry_dsl.sources.base import NewCursor


class Source:
    def extract(self, ctx):
        yield [{"x": 1}]
        yield NewCursor("7")
"""


def test_a_run_failing_at_the_state_before_committing_says_the_partition_is_unchanged(
    tmp_path: Path,
) -> None:
    p = custom_pipeline(tmp_path, SOURCE)
    state = tmp_path / "out" / "_state" / "system=s" / "table=t.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"cursor": 42}))  # hand-edited: not a string

    (result,) = apply(p).results

    assert (result.status, result.task) == ("failed", "state")
    assert "is unchanged" in (result.error or "")
    assert "was committed" not in (result.error or "")
    assert not (partition(tmp_path) / "_metadata.json").exists()


def test_a_run_whose_cursor_cannot_be_stored_after_the_commit_says_it_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = custom_pipeline(tmp_path, WITH_CURSOR)
    real_put = StateStore.put

    def put(self: StateStore, system: str, table: str, entry: dict) -> None:
        if entry.get("pending") is None:  # the cursor after the commit, not the intent
            raise StorageError("disk full")
        real_put(self, system, table, entry)

    monkeypatch.setattr(StateStore, "put", put)
    (result,) = apply(p).results

    assert (result.status, result.task) == ("failed", "state")
    assert f"{partition(tmp_path)}/ was committed" in (result.error or "")
    assert (partition(tmp_path) / "_metadata.json").exists()
