"""Partition paths, one test per strategy of the spec's layout, and unsafe values refused."""

from __future__ import annotations

import datetime as dt

import pytest

from foundry_dsl.errors import PlanError
from foundry_dsl.planner.partitions import (
    RunInputs,
    check_value,
    default_batch_id,
    file_name,
    partition_levels,
    partition_path,
)

AT = dt.datetime(2025, 1, 12, 14, 30, 15, tzinfo=dt.timezone.utc)
INPUTS = RunInputs(dt.date(2025, 1, 12), AT)


def path(strategy: str, use_dt: bool = True, batch_id: str = "custom_001", system: str = "salesforce", table: str = "accounts") -> str:
    return partition_path(
        partition_levels(
            system=system, table=table, strategy=strategy, use_dt=use_dt, inputs=INPUTS, batch_id=batch_id
        )
    )


def test_date_strategy_writes_a_dt_folder() -> None:
    assert path("date") == "system=salesforce/table=accounts/dt=2025-01-12/"


def test_hourly_strategy_adds_the_hour_of_the_run_time() -> None:
    assert path("hourly") == "system=salesforce/table=accounts/dt=2025-01-12/hour=14/"


def test_timestamp_strategy_adds_a_minute_batch_folder() -> None:
    assert path("timestamp") == "system=salesforce/table=accounts/dt=2025-01-12/batch=20250112_1430/"


def test_batch_id_strategy_adds_the_batch_id() -> None:
    assert path("batch_id") == "system=salesforce/table=accounts/dt=2025-01-12/batch_id=custom_001/"


def test_none_strategy_has_only_system_and_table() -> None:
    assert path("none") == "system=salesforce/table=accounts/"


def test_use_dt_partition_false_drops_the_dt_level() -> None:
    assert path("hourly", use_dt=False) == "system=salesforce/table=accounts/hour=14/"


def test_dt_is_the_run_date_not_the_day_of_the_run_time() -> None:
    late = RunInputs(dt.date(2025, 1, 11), AT)
    levels = partition_levels(system="s", table="t", strategy="date", use_dt=True, inputs=late, batch_id="b")
    assert partition_path(levels) == "system=s/table=t/dt=2025-01-11/"


def test_run_time_in_another_zone_is_converted_to_utc() -> None:
    at = dt.datetime(2025, 1, 12, 16, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    levels = partition_levels(
        system="s", table="t", strategy="hourly", use_dt=True,
        inputs=RunInputs(dt.date(2025, 1, 12), at), batch_id="b",
    )
    assert partition_path(levels) == "system=s/table=t/dt=2025-01-12/hour=14/"


def test_default_batch_id_is_the_run_time_to_the_second() -> None:
    assert default_batch_id(AT) == "20250112_143015"


def test_file_names_are_numbered_from_one_with_four_digits() -> None:
    assert [file_name(1, "parquet"), file_name(12, "csv"), file_name(12345, "parquet")] == [
        "part-0001.parquet",
        "part-0012.csv",
        "part-12345.parquet",
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("..", "is '..'"),
        ("x..y", "contains '..'"),
        ("k=v", "contains '='"),
        ("tab\there", "control character"),
        ("nl\n", "control character"),
        ("", "is empty"),
    ],
)
def test_unsafe_batch_id_is_refused(value: str, problem: str) -> None:
    with pytest.raises(PlanError, match=problem) as info:
        path("batch_id", batch_id=value)
    assert "batch id" in info.value.message


def test_unsafe_system_is_refused_naming_the_pipeline() -> None:
    with pytest.raises(PlanError) as info:
        check_value("system", "../etc", "x.y")
    assert info.value.message.startswith("pipeline x.y: the system '../etc' contains '..'")


def test_unsafe_table_is_refused() -> None:
    with pytest.raises(PlanError, match="the table 'a=b'"):
        path("date", table="a=b")


def test_safe_values_pass_unchanged() -> None:
    assert check_value("batch id", "run-2025.01_a") == "run-2025.01_a"
