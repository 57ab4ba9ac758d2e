"""An incremental pipeline run again into a partition it already committed."""

from __future__ import annotations

from pathlib import Path

from tests.executor.helpers import apply, custom_pipeline, only, rows

#: a source of ids 1..N (N in a file), read from the cursor on: "rows after the cursor"
GROWING = """
from foundry_dsl.sources.base import Extractor, NewCursor
class Source(Extractor):
    def extract(self, ctx, part=0):
        n = int(open({count!r}).read())
        since = int(ctx.cursor) if ctx.cursor is not None else 0
        yield [{{"id": i}} for i in range(since + 1, n + 1)]
        yield NewCursor(str(n) if n > since else None)
"""


def test_a_second_run_into_the_same_partition_keeps_the_first_runs_rows(tmp_path: Path) -> None:
    count = tmp_path / "count.txt"
    p = custom_pipeline(tmp_path, GROWING.format(count=str(count)), table="rerun")
    count.write_text("3")
    assert only(apply(p)).cursor == "3"
    count.write_text("5")  # two new rows, then the same day's partition is landed again
    second = only(apply(p))
    assert second.status == "succeeded", second.error
    # the partition is replaced whole, so it must hold the earlier run's rows too
    assert rows(tmp_path, "rerun", columns="id") == [(1,), (2,), (3,), (4,), (5,)]
    assert second.cursor == "5"


def test_a_rerun_with_nothing_new_lands_the_same_rows_again(tmp_path: Path) -> None:
    count = tmp_path / "count.txt"
    p = custom_pipeline(tmp_path, GROWING.format(count=str(count)), table="rerun")
    count.write_text("3")
    assert only(apply(p)).status == "succeeded"
    rerun = only(apply(p))
    assert rerun.status == "succeeded", rerun.error
    assert rows(tmp_path, "rerun", columns="id") == [(1,), (2,), (3,)]
    assert rerun.cursor == "3"
