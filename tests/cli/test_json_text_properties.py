"""cli/render/json_text.py writes the very characters of
``json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)``: checked on values
hypothesis generates, and on the cases a reader of a plan would look at."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_dsl.cli.render.json_text import dumps


def _reference(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


# every code point, surrogates and control characters included, and the ones JSON escapes
TRICKY = ["", '"', "\\", "/", "\x00", "\x1f", "\x7f", "\b\f\n\r\t", "\u2028\u2029", "é", "日本",
          "😀", "\ud800", "\udfff"]
TEXT = st.one_of(st.text(st.characters(exclude_categories=())), st.sampled_from(TRICKY))
FLOATS = st.one_of(
    st.floats(),  # nan and both infinities included
    st.sampled_from([1e-7, 1.5e-7, 1e16, 1e22, 1e300, 5e-324, -0.0, 0.1, 123456789.125]),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-(2**80), 2**80),
                    FLOATS, TEXT)
# keys json.dumps can sort: one family per dict (str with int or None cannot be compared)
NUMBER_KEYS = st.one_of(st.integers(), st.floats(), st.booleans())


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(TEXT, children, max_size=5),
        st.dictionaries(NUMBER_KEYS, children, max_size=5),
        st.dictionaries(st.none(), children, max_size=1),
    )


VALUES = st.recursive(SCALARS, _containers, max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_any_value_is_written_as_json_dumps_writes_it(value: Any) -> None:
    assert dumps(value) == _reference(value)


def test_nested_values_are_indented_two_spaces_with_keys_sorted() -> None:
    value = {"b": [1, 2.5, None, (True, False)], "a": {}, "c": {"y": [], "x": "z"}}
    assert dumps(value) == (
        '{\n'
        '  "a": {},\n'
        '  "b": [\n'
        '    1,\n'
        '    2.5,\n'
        '    null,\n'
        '    [\n'
        '      true,\n'
        '      false\n'
        '    ]\n'
        '  ],\n'
        '  "c": {\n'
        '    "x": "z",\n'
        '    "y": []\n'
        '  }\n'
        '}'
    )


def test_text_that_is_not_ascii_is_written_as_is() -> None:
    assert dumps("naïve 日本 😀") == '"naïve 日本 😀"'


def test_control_characters_quotes_and_backslashes_are_escaped() -> None:
    assert dumps('\x00\x1f\n\t"\\') == '"\\u0000\\u001f\\n\\t\\"\\\\"'


@pytest.mark.parametrize(
    ("value", "text"),
    [(1e-7, "1e-07"), (1e16, "1e+16"), (0.1, "0.1"), (-0.0, "-0.0"), (2.0, "2.0"),
     (float("nan"), "NaN"), (float("inf"), "Infinity"), (float("-inf"), "-Infinity")],
)
def test_floats_are_written_as_python_repr_and_javascript_names(value: float, text: str) -> None:
    assert dumps(value) == text


@pytest.mark.parametrize(("value", "text"), [(2**70, "1180591620717411303424"), (-3, "-3")])
def test_integers_of_any_size_are_written_whole(value: int, text: str) -> None:
    assert dumps(value) == text


@pytest.mark.parametrize(
    ("key", "text"),
    [(False, "false"), (True, "true"), (None, "null"), (7, "7"), (1.5, "1.5"),
     (float("nan"), "NaN"), (float("-inf"), "-Infinity")],
)
def test_a_key_that_is_not_a_string_is_written_as_its_json_text(key: Any, text: str) -> None:
    assert dumps({key: 0}) == f'{{\n  "{text}": 0\n}}'


def test_keys_of_mixed_numbers_and_booleans_are_sorted_by_value() -> None:
    assert dumps({10: "a", 2.5: "b", False: "c"}) == '{\n  "false": "c",\n  "2.5": "b",\n  "10": "a"\n}'


def _type_error(value: Any, write: Any) -> str:
    with pytest.raises(TypeError) as caught:
        write(value)
    return str(caught.value)


def test_a_key_json_cannot_write_is_the_type_error_json_dumps_raises() -> None:
    value = {(1, 2): "tuple keys"}
    assert _type_error(value, dumps) == _type_error(value, _reference)
    assert _type_error(value, dumps) == "keys must be str, int, float, bool or None, not tuple"


def test_a_value_json_cannot_write_is_the_type_error_json_dumps_raises() -> None:
    value = {"a": [{1, 2}]}
    assert _type_error(value, dumps) == _type_error(value, _reference)
    assert _type_error(value, dumps) == "Object of type set is not JSON serializable"


def test_keys_that_cannot_be_ordered_are_the_type_error_json_dumps_raises() -> None:
    value = {"a": 1, 2: "b"}
    assert _type_error(value, dumps) == _type_error(value, _reference)
