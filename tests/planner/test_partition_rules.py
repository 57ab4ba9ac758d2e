"""Partition rules the layout tests leave open: the exact refusal texts, UTC whatever the
machine's zone, and which batch id wins (scripts/mutate partitions)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest

from foundry_dsl.errors import PlanError
from foundry_dsl.planner.partitions import (
    RunInputs,
    batch_id_for,
    check_value,
    committed_name,
    partition_levels,
)

AT = dt.datetime(2025, 1, 12, 23, 30, 15, tzinfo=dt.timezone.utc)


@pytest.fixture
def far_from_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's local zone is UTC+5:30 for the test."""
    monkeypatch.setenv("TZ", "IST-5:30")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _levels(strategy: str, at: dt.datetime, **kw: str) -> list[tuple[str, str]]:
    return partition_levels(
        system=kw.get("system", "s"), table=kw.get("table", "t"), strategy=strategy,
        use_dt=True, inputs=RunInputs(dt.date(2025, 1, 12), at), batch_id="b",
        **({"pipeline": kw["pipeline"]} if "pipeline" in kw else {}),
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        (".", "is '.'"),
        ("..", "is '..'"),
        ("a..b", "contains '..'"),
        ("a/b", "contains a path separator"),
        ("a=b", "contains '=' (it would read as another partition level)"),
        ("a\x1fb", "contains a control character"),
        ("a\x7fb", "contains a control character"),
    ],
)
def test_each_refusal_says_exactly_what_is_wrong(value: str, problem: str) -> None:
    with pytest.raises(PlanError) as info:
        check_value("batch id", value)
    assert info.value.message == (
        f"the batch id {value!r} {problem}; it becomes a folder name in the partition "
        "path, so use letters, digits, '_', '-' and '.' only"
    )


@pytest.mark.parametrize("value", ["a b", "~x", "caf\u00e9", "a\x80b"])
def test_spaces_and_printable_characters_past_ascii_pass(value: str) -> None:
    assert check_value("batch id", value) == value


def test_a_refusal_inside_a_pipeline_names_it_first() -> None:
    with pytest.raises(PlanError) as info:
        _levels("date", AT, table="a/b", pipeline="shop.orders")
    assert info.value.message.startswith("pipeline shop.orders: the table 'a/b' contains")


def test_a_refusal_outside_a_pipeline_starts_with_the_value() -> None:
    with pytest.raises(PlanError) as info:
        _levels("date", AT, table="a/b")
    assert info.value.message.startswith("the table 'a/b' contains a path separator")


def test_an_unknown_strategy_is_named_with_its_pipeline() -> None:
    with pytest.raises(PlanError) as info:
        _levels("weekly", AT, pipeline="shop.orders")
    assert info.value.message == "pipeline shop.orders: unknown partition strategy 'weekly'"


def test_hour_and_batch_are_utc_whatever_the_local_zone(far_from_utc: None) -> None:
    assert _levels("hourly", AT)[-1] == ("hour", "23")
    assert _levels("timestamp", AT)[-1] == ("batch", "20250112_2330")


def test_a_naive_run_time_is_taken_as_utc_whatever_the_local_zone(far_from_utc: None) -> None:
    naive = AT.replace(tzinfo=None)
    assert _levels("hourly", naive)[-1] == ("hour", "23")


def test_the_batch_id_option_wins_over_the_pipelines() -> None:
    assert batch_id_for("from_pipeline", RunInputs(dt.date(2025, 1, 12), AT, "from_cli")) == "from_cli"


def test_the_pipelines_batch_id_wins_over_the_derived_one() -> None:
    assert batch_id_for("from_pipeline", RunInputs(dt.date(2025, 1, 12), AT)) == "from_pipeline"


def test_without_either_the_batch_id_is_the_run_time() -> None:
    assert batch_id_for(None, RunInputs(dt.date(2025, 1, 12), AT)) == "20250112_233015"


def test_plans_show_committed_names_with_a_tag_before_the_extension() -> None:
    assert [committed_name(1, "parquet"), committed_name(12, "csv")] == [
        "part-0001-<tag>.parquet",
        "part-0012-<tag>.csv",
    ]
