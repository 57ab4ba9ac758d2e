"""BatchSchema skips unify for a schema it has already seen: the same results as without."""

from __future__ import annotations

import pyarrow as pa

from foundry_dsl.write.schema import BatchSchema


def test_a_seen_schema_after_a_widening_is_conformed_to_the_wider_one() -> None:
    bs = BatchSchema()
    bs.add(pa.table({"v": [1]}))
    bs.add(pa.table({"v": [1]}))  # seen: nothing to widen
    bs.add(pa.table({"v": [0.5]}))
    again = bs.add(pa.table({"v": [2]}))
    assert again.schema.field("v").type == pa.float64()
    assert again.column("v").to_pylist() == [2.0]
    assert bs.version == 2


def test_big_ints_in_a_seen_schema_still_turn_a_float_column_to_text() -> None:
    bs = BatchSchema()
    bs.add(pa.table({"v": [0.5]}))
    bs.add(pa.table({"v": [1]}))  # int into float: seen from now on
    bs.add(pa.table({"v": [2]}))
    out = bs.add(pa.table({"v": [2**60 + 1]}))  # the same schema, a value a float cannot hold
    assert bs.schema is not None and bs.schema.field("v").type == pa.string()
    assert out.column("v").to_pylist() == [str(2**60 + 1)]
    assert bs.big_ints == frozenset({"v"})


def test_a_new_column_after_repeats_is_still_added() -> None:
    bs = BatchSchema()
    for _ in range(3):
        bs.add(pa.table({"a": [1]}))
    out = bs.add(pa.table({"a": [1], "b": ["x"]}))
    assert out.column_names == ["a", "b"]
    assert bs.version == 2
