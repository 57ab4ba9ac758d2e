"""The plain layout (cli/render/plain.py) prints what rich prints, character for character."""

from __future__ import annotations

import datetime as dt
import io
import random
from pathlib import Path

import pytest
from rich.console import Console, Group
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from foundry_dsl.cli.render import plain
from foundry_dsl.cli.render.plan_text import plan_renderable, render_plan_text
from foundry_dsl.planner.plan import Plan

WORDS = ["a", "db", "SELECT", "x,", "->", "write[parquet]", "s3://bucket/prefix/with/a/long/path",
         "(local)", "env(\"X\")", "  ", "", "partition_column_that_is_long", "[0,", "34)", "..."]


def _rich(renderable: object, width: int) -> list[str]:
    buf = io.StringIO()
    console = Console(file=buf, width=width, no_color=True, color_system=None, highlight=False)
    console.print(renderable)
    return [line.rstrip() for line in buf.getvalue().splitlines()]


def _rich_grid(rows: list[tuple[str, str]], width: int) -> list[str]:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(key, Text(value))
    return _rich(Padding(grid, (0, 0, 0, 2), expand=False), width)


def _text(rng: random.Random, lines: int = 1) -> str:
    out = []
    for _ in range(lines):
        n = rng.randint(0, 14)
        sep = rng.choice([" ", " ", "  ", ", "])
        line = sep.join(rng.choice(WORDS) for _ in range(n))
        if rng.random() < 0.2:
            line = " " * rng.randint(1, 6) + line  # an indented tree line
        if rng.random() < 0.1:
            line += " " * rng.randint(1, 3)
        out.append(line)
    return "\n".join(out)


@pytest.mark.parametrize("seed", range(40))
def test_wrap_matches_rich(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(20):
        text = _text(rng, rng.randint(1, 3))
        width = rng.choice([1, 2, 5, 12, 20, 33, 47, 80, 121])
        assert plain.wrap(text, width) == _rich(Text(text), width), (text, width)


@pytest.mark.parametrize("seed", range(60))
def test_grid_matches_rich(seed: int) -> None:
    rng = random.Random(seed)
    keys = ["source", "target", "partition", "if empty", "env", "tasks", "estimate", "a"]
    for _ in range(5):
        rows = [(rng.choice(keys), _text(rng, rng.choice([1, 1, 1, 2, 5])))
                for _ in range(rng.randint(1, 9))]
        width = rng.choice([8, 13, 16, 20, 30, 47, 60, 80, 100, 200])
        lines = plain.grid(rows, width)
        if lines is None:  # rich lays it out: the key column cannot fit, or no value at all
            widest = max(len(line) for _, v in rows for line in v.split("\n"))
            assert max(len(k) for k, _ in rows) + 2 >= width - 2 or widest == 0
            continue
        assert lines == _rich_grid(rows, width), (rows, width)


def test_head_and_grid_together_match_a_rich_group() -> None:
    rows = [("source", "db env(\"DB\"): SELECT a, b, c FROM t, incremental on updated_at"),
            ("tasks", "extract[0] -> chunk[*] -> write[csv], write[parquet] -> upload -> commit")]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(key, Text(value))
    head = "+ create shop.orders  (pipelines/demo.bronze)"
    expected = _rich(Group(Text(head), Padding(grid, (0, 0, 0, 2), expand=False)), 80)
    assert [*(plain.wrap(head, 80) or []), *(plain.grid(rows, 80) or [])] == expected


@pytest.mark.parametrize("text", ["naïve", "日本語のテキスト", "tab\there", "bell\x07", "a\r\nb"])
def test_text_rich_would_change_is_left_to_rich(text: str) -> None:
    assert plain.wrap(text, 80) is None
    assert plain.grid([("source", text)], 80) is None


REPO = Path(__file__).resolve().parents[2]


def _plan_of(paths: list[str]) -> Plan:
    import foundry_dsl

    at = dt.datetime(2025, 1, 12, 14, 30, tzinfo=dt.timezone.utc)
    return foundry_dsl.load(paths).plan(date=at.date(), at=at, look_up_storage=False)


@pytest.mark.parametrize("width", [80, 120, 57, 34, 12])
def test_a_plan_reads_as_rich_prints_it(width: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the shipped pipelines, and one rich must lay out (a path that is not ASCII)
    odd = tmp_path / "données.bronze"
    odd.write_text(
        'platform p {\n  storage local { path = "./sortie/é" }\n}\n'
        'pipeline a.b {\n  platform = p\n  source files { paths = ["données/*.csv"] }\n}\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(REPO)
    paths = sorted(str(p.relative_to(REPO)) for p in (REPO / "pipelines").glob("*.bronze"))
    plan = _plan_of([*paths, str(odd)])
    expected = "\n".join(_rich(plan_renderable(plan), width)) + "\n"
    assert render_plan_text(plan, width) == expected
