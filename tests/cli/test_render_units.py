"""cli/render/units.py: sizes, counts and durations as the CLI prints them."""

from __future__ import annotations

import pytest

from foundry_dsl.cli.render.units import files, human_bytes, human_count, human_seconds

KB = 1024
MB = 1024 * KB
GB = 1024 * MB
TB = 1024 * GB


def test_an_unknown_size_is_a_question_mark() -> None:
    assert human_bytes(None) == "?"


@pytest.mark.parametrize(("n", "shown"), [(0, "0 B"), (1, "1 B"), (1023, "1023 B")])
def test_a_size_under_a_kilobyte_is_whole_bytes(n: int, shown: str) -> None:
    assert human_bytes(n) == shown


@pytest.mark.parametrize(
    ("n", "shown"),
    [(KB, "1 KB"), (8 * MB, "8 MB"), (GB, "1 GB"), (3 * TB, "3 TB")],
)
def test_a_whole_number_of_units_is_shown_without_decimals(n: int, shown: str) -> None:
    assert human_bytes(n) == shown


@pytest.mark.parametrize(
    ("n", "shown"),
    [(KB + KB // 2, "1.5 KB"), (int(2.5 * GB), "2.5 GB"), (int(1.75 * TB), "1.8 TB")],
)
def test_a_fraction_of_a_unit_is_rounded_to_one_decimal(n: int, shown: str) -> None:
    assert human_bytes(n) == shown


def test_a_size_that_rounds_to_a_whole_unit_drops_the_decimal() -> None:
    # 1.04 MB to one decimal is 1.0, written 1
    assert human_bytes(MB + 40 * KB) == "1 MB"


@pytest.mark.parametrize(("n", "shown"), [(1024 * TB, "1024 TB"), (1024 * 1024 * TB, "1048576 TB")])
def test_a_size_beyond_terabytes_is_still_counted_in_terabytes(n: int, shown: str) -> None:
    assert human_bytes(n) == shown


def test_a_size_that_rounds_up_to_the_next_unit_is_shown_in_that_unit() -> None:
    assert human_bytes(MB - 1) == "1 MB"


def test_an_unknown_count_is_a_question_mark() -> None:
    assert human_count(None) == "?"


@pytest.mark.parametrize(("n", "shown"), [(0, "0"), (999, "999"), (1_234_567, "1,234,567")])
def test_a_count_groups_thousands_with_commas(n: int, shown: str) -> None:
    assert human_count(n) == shown


@pytest.mark.parametrize(
    ("n", "shown"),
    [(1, "1 file"), (0, "0 files"), (2, "2 files"), (2000, "2,000 files"), (None, "? files")],
)
def test_files_are_counted_singular_only_for_one(n: int | None, shown: str) -> None:
    assert files(n) == shown


@pytest.mark.parametrize(("s", "shown"), [(0, "0.0s"), (0.04, "0.0s"), (1.26, "1.3s"), (59.9, "59.9s")])
def test_a_duration_under_a_minute_is_seconds_to_one_decimal(s: float, shown: str) -> None:
    assert human_seconds(s) == shown


@pytest.mark.parametrize(("s", "shown"), [(60, "1m00s"), (61.99, "1m01s"), (3599.5, "59m59s")])
def test_a_duration_of_a_minute_or_more_is_whole_minutes_and_seconds(s: float, shown: str) -> None:
    assert human_seconds(s) == shown


@pytest.mark.parametrize(("s", "shown"), [(3600, "60m00s"), (7325, "122m05s"), (86400, "1440m00s")])
def test_a_duration_of_hours_is_counted_in_minutes(s: float, shown: str) -> None:
    assert human_seconds(s) == shown


def test_a_duration_that_rounds_up_to_a_minute_is_shown_in_minutes() -> None:
    assert human_seconds(59.96) == "1m00s"
