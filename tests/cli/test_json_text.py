"""cli/render/json_text.py writes what json.dumps(indent=2, sort_keys=True, ensure_ascii=False) does."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from foundry_dsl.cli.render import json_text

STRINGS = ["", "a", "é", "日本", 'q"uote', "back\\slash", "new\nline", "tab\t", "\x00\x1f", "\u2028",
           "</script>", "😀"]


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randint(0, 9 if depth < 4 else 5)
    if kind == 0:
        return rng.choice(STRINGS)
    if kind == 1:
        return rng.choice([None, True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**70, 17])
    if kind == 3:
        return rng.choice([0.0, -0.5, 1e300, 1.5e-7, float("inf"), float("-inf"), float("nan")])
    if kind in (4, 5):
        return rng.choice(STRINGS) + str(rng.randint(0, 9))
    if kind in (6, 7):
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == 8:
        return tuple(_value(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return {rng.choice(STRINGS) + str(i): _value(rng, depth + 1) for i in range(rng.randint(0, 5))}


@pytest.mark.parametrize("seed", range(200))
def test_dumps_writes_what_json_dumps_writes(seed: int) -> None:
    value = _value(random.Random(seed))
    assert json_text.dumps(value) == json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@pytest.mark.parametrize("value", [{1: "a", 2: "b"}, {1.5: 0}, {True: 1}, {None: 1}])
def test_keys_that_are_not_strings_are_written_as_json_dumps_does(value: dict[Any, Any]) -> None:
    assert json_text.dumps(value) == json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def test_a_value_json_cannot_write_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        json_text.dumps({"a": object()})
