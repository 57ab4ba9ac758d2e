"""The ``sequence`` source: the worked example of docs/extending.md, run end to end."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds

from foundry_dsl.sources import registry
from tests.e2e.helpers import DATE, foundry

PIPELINE = """\
platform lake {
  storage local { path = "lake" }
}

pipeline demo.numbers {
  source sequence {
    start      = 5
    count      = 25000
    batch_rows = 4000
  }
  run { max_rows_per_file = 10000 }
}
"""


def test_a_sequence_lands_every_number_once_in_files_of_the_row_limit(tmp_path: Path) -> None:
    (tmp_path / "numbers.bronze").write_text(PIPELINE)
    done = foundry(tmp_path, "apply", "numbers.bronze", "--date", DATE)
    assert done.returncode == 0, done.stderr
    table = ds.dataset(tmp_path / "lake", format="parquet", partitioning="hive").to_table()
    assert sorted(table.column("n").to_pylist()) == list(range(5, 25_005))
    files = sorted((tmp_path / "lake").rglob("*.parquet"))
    assert [ds.dataset(f).count_rows() for f in files] == [10_000, 10_000, 5_000]


def test_plan_describes_a_sequence_from_its_registry_entry(tmp_path: Path) -> None:
    (tmp_path / "numbers.bronze").write_text(PIPELINE)
    shown = foundry(tmp_path, "plan", "numbers.bronze", "--date", DATE, "--offline")
    assert shown.returncode == 0, shown.stderr
    assert "sequence of 25,000 numbers from 5" in shown.stdout


def test_the_registry_knows_every_kind_of_the_ir_union() -> None:
    import typing

    from foundry_dsl import ir

    union = typing.get_args(typing.get_args(ir.Source)[0])
    kinds = {m.model_fields["kind"].default for m in union}
    assert kinds == set(registry.BUILTIN)
    for kind in kinds:
        assert registry.extractor_class(kind).__module__ == f"foundry_dsl.sources.{kind}"
