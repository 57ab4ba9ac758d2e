"""Cursors as typed values: parse, render, order, step back (scripts/mutate state).

A cursor picks the rows a run reads, so every rule here decides whether rows are lost
or doubled: numbers compare as numbers, timestamps as instants, and what is stored is
what was written."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest

from foundry_dsl import cursors

UTC = dt.timezone.utc
PLUS2 = dt.timezone(dt.timedelta(hours=2))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        (" -7 ", -7),
        ("1.50", decimal.Decimal("1.50")),
        ("1e3", decimal.Decimal("1e3")),
        ("2025-01-12", dt.date(2025, 1, 12)),
        ("2025-01-12T10:20:30", dt.datetime(2025, 1, 12, 10, 20, 30)),
        ("2025-01-12 10:20:30", dt.datetime(2025, 1, 12, 10, 20, 30)),
        ("2025-01-12T10:20:30.000001+02:00", dt.datetime(2025, 1, 12, 10, 20, 30, 1, PLUS2)),
        ("2025-01-12T10:20:30Z", dt.datetime(2025, 1, 12, 10, 20, 30, tzinfo=UTC)),
    ],
)
def test_parse_gives_the_typed_value(text: str, value: object) -> None:
    parsed = cursors.parse(text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    "text", ["nan", "NaN", "inf", "-inf", "Infinity", "2025-13-45", "abcd-ef-ghij",
             "2025/01/12", "2025-01", "cursor-token"],
)
def test_what_is_no_number_or_date_stays_text(text: str) -> None:
    assert cursors.parse(text) == text.strip()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (dt.datetime(2025, 1, 12, 10, 20, 30), "2025-01-12T10:20:30"),
        (dt.datetime(2025, 1, 12, 10, 20, 30, 5), "2025-01-12T10:20:30.000005"),
        (dt.datetime(2025, 1, 12, 10, 20, 30, tzinfo=PLUS2), "2025-01-12T10:20:30+02:00"),
        (dt.date(2025, 1, 12), "2025-01-12"),
        (True, "1"),
        (False, "0"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (b"\x00\xff", "00ff"),
        (decimal.Decimal("1.500"), "1.500"),
        (12, "12"),
        ("token", "token"),
    ],
)
def test_render_keeps_full_precision(value: object, text: str) -> None:
    assert cursors.render(value) == text


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["9", "10"], "10"),
        (["10", "9.5"], "10"),
        (["-3", "-20"], "-3"),
        (["2025-01-12T10:00:00+02:00", "2025-01-12T09:00:00Z"], "2025-01-12T09:00:00Z"),
        (["2025-01-12T09:00:00", "2025-01-12T08:30:00+00:00"], "2025-01-12T09:00:00"),
        (["2025-01-12", "2025-01-11T23:00:00Z"], "2025-01-12"),
        (["2025-01-12T00:00:01Z", "2025-01-12"], "2025-01-12T00:00:01Z"),
        (["b", "a"], "b"),
        ([None, "5", None], "5"),
    ],
)
def test_greatest_compares_typed_values_and_returns_the_text_as_written(
    values: list[str | None], expected: str,
) -> None:
    assert cursors.greatest(values) == expected


def test_numbers_order_before_times_and_times_before_text() -> None:
    assert cursors.greatest(["99999999", "2025-01-12"]) == "2025-01-12"
    assert cursors.greatest(["2025-01-12", "token"]) == "token"


def test_greatest_of_nothing_is_none() -> None:
    assert cursors.greatest([None, None]) is None
    assert cursors.greatest([]) is None


def test_later_is_the_greater_of_two() -> None:
    assert cursors.later("9", "10") == "10"
    assert cursors.later(None, "3") == "3"
    assert cursors.later(None, None) is None


@pytest.mark.parametrize(
    ("cursor", "end", "beyond"),
    [("11", "10", True), ("9", "10", False), ("10", "10", False),
     ("2025-01-12T10:00:00+02:00", "2025-01-12T09:00:00Z", False),
     # the same value spelled twice is not past itself
     ("5.0", "5", False), ("5", "5.0", False), ("5.01", "5", True),
     ("2025-01-12T09:00:00Z", "2025-01-12T09:00:00+00:00", False),
     ("2025-01-12T11:00:00+02:00", "2025-01-12T09:00:00Z", False),
     ("2025-01-12T11:00:01+02:00", "2025-01-12T09:00:00Z", True)],
)
def test_past_means_beyond_an_inclusive_end(cursor: str, end: str, beyond: bool) -> None:
    assert cursors.past(cursor, end) is beyond


@pytest.mark.parametrize(
    ("text", "seconds", "back"),
    [
        ("2025-01-12T10:00:00.250000+02:00", 90, "2025-01-12T09:58:30.250000+02:00"),
        ("2025-01-12T10:00:00", 0.5, "2025-01-12T09:59:59.500000"),
        ("2025-01-12", 1, "2025-01-11"),
        ("2025-01-12", 86400, "2025-01-11"),
        ("2025-01-12", 86401, "2025-01-10"),
        ("2025-01-12", 0, "2025-01-12"),
        ("100", 1.5, "98"),
        ("100", 3, "97"),
        ("10.5", 1.25, "9.25"),
    ],
)
def test_step_back_moves_earlier_by_at_least_the_lookback(
    text: str, seconds: float, back: str,
) -> None:
    assert cursors.step_back(text, seconds) == back


def test_step_back_of_a_text_cursor_is_refused() -> None:
    with pytest.raises(ValueError) as info:
        cursors.step_back("token-9", 60)
    assert str(info.value) == "lookback needs a timestamp, date or number cursor, not 'token-9'"
