"""``run { source_connections = N }``: at most N parts read the source at once."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from foundry_dsl import ir
from foundry_dsl.executor.local import LocalExecutor
from foundry_dsl.planner.build import build_plan
from tests.executor.helpers import AT, DATE

# each part records when it starts and ends reading, and waits for another part to
# start meanwhile, so overlap shows in the log. The wait polls the log file (parts may
# run in other processes), and how long it lasts never decides a verdict: under a
# limit of one no other part can start (the short wait only gives a broken limit the
# chance to show); without a limit another part always starts, and the wait lasts
# until it does (the long bound only turns a hang into a failure)
SOURCE = '''
import os, pathlib, time
from foundry_dsl.sources.base import Extractor


class Source(Extractor):
    def parts(self, ctx):
        return 3

    def extract(self, ctx, part=0):
        log = pathlib.Path(ctx.pipeline.source.params["log"])
        with open(log, "a") as fh:
            fh.write(f"start {part}\\n")
        deadline = time.monotonic() + float(ctx.pipeline.source.params["peer_wait"])
        while log.read_text().count("start") < 2:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        yield [{"part": part}]
        with open(log, "a") as fh:
            fh.write(f"end {part}\\n")
'''


def _pipeline(folder: Path, limit: int | None) -> ir.Pipeline:
    peer_wait = 0.5 if limit == 1 else 120.0
    (folder / "src_conn.py").write_text(textwrap.dedent(SOURCE))
    return ir.Pipeline(
        system="s",
        table="t",
        platform=ir.Platform(name="p", storage=ir.LocalStorage(path=str(folder / "lake"))),
        source=ir.CustomSource(module="src_conn", class_name="Source",
                               params={"log": str(folder / "reads.log"),
                                       "peer_wait": peer_wait}),
        run=ir.RunOptions(local_output_dir=str(folder / "scratch"), source_connections=limit),
        source_file=str(folder / "p.bronze"),
    )


def _overlaps(log: Path) -> int:
    """The most parts reading at once, by the recorded order of starts and ends."""
    now = most = 0
    for line in log.read_text().split():
        if line == "start":
            now += 1
            most = max(most, now)
        elif line == "end":
            now -= 1
    return most


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_one_connection_lets_one_part_read_at_a_time(
    tmp_path: Path, executor: str, request: pytest.FixtureRequest
) -> None:
    runner: Any = LocalExecutor() if executor == "local" else request.getfixturevalue("dask_executor")
    plan = build_plan([_pipeline(tmp_path, 1)], DATE, AT, look_up_storage=False)
    (result,) = runner.execute(plan).results
    assert result.status == "succeeded", result.error
    assert result.rows == 3
    assert _overlaps(tmp_path / "reads.log") == 1


def test_without_a_limit_parts_read_side_by_side(tmp_path: Path) -> None:
    plan = build_plan([_pipeline(tmp_path, None)], DATE, AT, look_up_storage=False)
    (result,) = LocalExecutor().execute(plan).results
    assert result.status == "succeeded", result.error
    assert _overlaps(tmp_path / "reads.log") > 1  # the control: the log can show overlap
