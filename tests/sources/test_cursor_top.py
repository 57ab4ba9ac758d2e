"""The cursor an API extraction stores: the largest value of its incremental field."""

from __future__ import annotations

from foundry_dsl.sources.http.landing import MaxTracker, larger, page_top
from foundry_dsl.sources.http.records import compile_path


def test_the_top_of_a_nested_field_is_the_largest_value_at_its_path() -> None:
    records = [{"meta": {"seq": 3}}, {"meta": {"seq": 11}}, {"meta": {}}, {"other": 1}]
    assert page_top(records, compile_path("meta.seq")) == 11


def test_records_without_the_field_give_no_top() -> None:
    assert page_top([{"a": 1}, {"seq": None}], compile_path("seq")) is None
    assert page_top([{"meta": {}}], compile_path("meta.seq")) is None


def test_a_field_of_mixed_types_on_one_page_is_compared_as_text() -> None:
    assert page_top([{"v": 9}, {"v": "10"}], compile_path("v")) == "9"
    assert page_top([{"m": {"v": 9}}, {"m": {"v": "10"}}], compile_path("m.v")) == "9"


def test_a_path_through_a_list_index_is_followed() -> None:
    records = [{"events": [{"at": "2024-01-02"}]}, {"events": [{"at": "2024-01-05"}]}]
    assert page_top(records, compile_path("events[0].at")) == "2024-01-05"


def test_pages_of_different_types_are_compared_as_text() -> None:
    assert larger(9, "10") == 9  # "9" > "10" as text
    assert larger("10", 9) == 9


def test_of_two_equal_tops_the_first_stays() -> None:
    assert str(larger(1, 1.0)) == "1"
    assert str(larger("b", "b")) == "b"


def test_no_top_on_either_side_leaves_the_other() -> None:
    assert larger(None, 5) == 5
    assert larger(5, None) == 5


def test_the_tracker_keeps_the_largest_over_every_page() -> None:
    steps = compile_path("meta.seq")
    t = MaxTracker()
    t.merge(page_top([{"meta": {"seq": 4}}], steps))
    t.merge(page_top([{"meta": {"seq": 2}}, {"meta": {}}], steps))
    t.merge(None)
    assert t.value() == "4"


def test_a_page_converted_whole_lands_only_the_records_within_the_window() -> None:
    from foundry_dsl.sources.http.landing import land, page_to_arrow

    records = [{"id": i, "at": f"2024-01-0{i}"} for i in range(1, 6)]
    every = page_to_arrow(records)  # a worker converts the page once, for the loop check
    landed = land(records, parse_dates=True, field="at", until="2024-01-03", converted=every)
    assert landed.count == 3
    assert landed.batch.column("id").to_pylist() == [1, 2, 3]
    assert landed.top == "2024-01-03"
    whole = land(records, parse_dates=True, field="at", until="2024-01-09", converted=every)
    assert whole.batch is every  # nothing cut: the conversion is reused
