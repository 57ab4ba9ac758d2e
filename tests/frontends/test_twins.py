"""Every YAML config of the spec compiles to the same IR as its `.bronze` twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from foundry_dsl import ir
from foundry_dsl.frontends.load import load

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "tests" / "frontends" / "medallion" / "spec_examples"
TWINS = REPO / "pipelines" / "medallion"


def meaning(path: Path) -> dict:
    (pipeline,) = load([str(path)]).pipelines
    data = ir.canonical(pipeline)
    del data["source_file"]
    return data


@pytest.mark.parametrize("name", sorted(p.stem for p in EXAMPLES.glob("*.yaml")))
def test_yaml_example_and_bronze_twin_give_the_same_ir(name: str) -> None:
    assert meaning(EXAMPLES / f"{name}.yaml") == meaning(TWINS / f"{name}.bronze")


def test_every_twin_has_a_yaml_example() -> None:
    assert {p.stem for p in TWINS.glob("*.bronze")} == {p.stem for p in EXAMPLES.glob("*.yaml")}
