"""The public face: ``foundry_dsl``'s exported names, and load → plan → apply from Python."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import foundry_dsl
from foundry_dsl.errors import PlanError

DATE = dt.date(2025, 1, 12)


def test_all_is_sorted_and_exactly_the_exported_names() -> None:
    # as httpx's tests/test_exported_members.py: a name added to the package is added to __all__
    assert foundry_dsl.__all__ == sorted(set(foundry_dsl.__all__))
    assert dir(foundry_dsl) == foundry_dsl.__all__
    assert set(foundry_dsl.__all__) == {*foundry_dsl._EXPORTS, "__version__"}
    for name in foundry_dsl.__all__:
        getattr(foundry_dsl, name)
    public = {
        name
        for name, value in vars(foundry_dsl).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public - {"TYPE_CHECKING"} == set(foundry_dsl.__all__) - {"__version__"}


def test_every_name_resolves_to_its_defining_module() -> None:
    for name, module in foundry_dsl._EXPORTS.items():
        assert getattr(foundry_dsl, name) is getattr(importlib.import_module(module), name)
    from foundry_dsl import Extractor, Plan, PlanError, Project, apply, load

    assert Plan.__module__ == "foundry_dsl.planner.plan"
    assert issubclass(PlanError, foundry_dsl.FoundryError)
    assert callable(load) and callable(apply) and isinstance(Project, type)
    assert Extractor is foundry_dsl.sources.base.Extractor
    assert isinstance(foundry_dsl.__version__, str)


def test_the_stub_that_type_checkers_read_names_the_same_things() -> None:
    # __init__.pyi stands in for an `if TYPE_CHECKING:` block (see __init__.py's docstring)
    stub = ast.parse(Path(foundry_dsl.__file__).with_suffix(".pyi").read_text())
    imported = {
        alias.asname or alias.name: node.module
        for node in stub.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert imported == foundry_dsl._EXPORTS
    assigned = {
        target.id: node.value
        for node in stub.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert ast.literal_eval(assigned["__all__"]) == foundry_dsl.__all__


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        foundry_dsl.nope  # noqa: B018
    with pytest.raises(ImportError):
        from foundry_dsl import nope  # noqa: F401


def test_deep_paths_that_users_import_still_work() -> None:
    from foundry_dsl.extractors.base import BaseExtractor
    from foundry_dsl.sources.base import Extractor
    from foundry_dsl.storage.base import StorageBackend

    assert BaseExtractor.__name__ == "BaseExtractor"
    assert Extractor is foundry_dsl.Extractor
    assert StorageBackend is foundry_dsl.StorageBackend


def test_importing_the_package_loads_nothing_more() -> None:
    code = (
        "import sys, json, foundry_dsl\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('foundry_dsl', 'pydantic', 'pyarrow', 'duckdb', 'rich', 'lark', 'yaml'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["foundry_dsl"]


def _project(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "orders.csv").write_text("order_id,customer,amount\n1,ada,1.5\n2,bob,2.25\n3,cy,10.0\n")
    path = tmp_path / "shop.bronze"
    path.write_text(
        f"""platform lake {{
  storage local {{
    path = "{(tmp_path / 'out').as_posix()}"
  }}
  partition = date
  formats = [parquet]
}}

pipeline shop.orders {{
  platform = lake
  source files {{
    paths = ["{(data / '*.csv').as_posix()}"]
    format = csv
  }}
}}
"""
    )
    return path


def test_load_plan_apply_lands_the_rows(tmp_path: Path) -> None:
    path = _project(tmp_path)
    project = foundry_dsl.load([path])
    assert [p.name for p in project.pipelines] == ["shop.orders"]
    assert project.files == (str(path),)

    plan = project.plan(date=DATE)
    assert isinstance(plan, foundry_dsl.Plan)
    assert plan.run_date == DATE
    assert [(p.name, p.action) for p in plan.pipelines] == [("shop.orders", "create")]

    result = foundry_dsl.apply(plan)
    assert isinstance(result, foundry_dsl.RunResult)
    assert result.exit_code == 0
    assert [(r.name, r.status, r.rows) for r in result.results] == [("shop.orders", "succeeded", 3)]

    partition = tmp_path / "out" / "system=shop" / "table=orders" / "dt=2025-01-12"
    files = sorted(partition.glob("*.parquet"))
    assert len(files) == 1
    rows = pq.read_table(files[0]).to_pylist()
    assert [(r["order_id"], r["customer"], r["amount"]) for r in rows] == [
        (1, "ada", 1.5),
        (2, "bob", 2.25),
        (3, "cy", 10.0),
    ]


def test_plan_defaults_the_date_to_the_utc_day_of_at(tmp_path: Path) -> None:
    project = foundry_dsl.load([_project(tmp_path)])
    at = dt.datetime(2025, 1, 12, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))
    plan = project.plan(at=at, look_up_storage=False)
    assert plan.run_date == dt.date(2025, 1, 13)
    assert plan.run_at == dt.datetime(2025, 1, 13, 1, 30, tzinfo=dt.timezone.utc)
    assert project.plan(select=[], look_up_storage=False).pipelines == ()


def test_plan_select_of_an_unknown_pipeline_says_which_one_was_meant(tmp_path: Path) -> None:
    path = _project(tmp_path)
    project = foundry_dsl.load([str(path)])
    with pytest.raises(PlanError) as err:
        project.plan(select=["shop.order"])
    assert err.value.message == f"--select shop.order: no such pipeline in {path}; did you mean 'shop.orders'?"
    with pytest.raises(PlanError) as err:
        project.plan(select=["nope.x"])
    assert err.value.message == f"--select nope.x: no such pipeline in {path} (pipelines: shop.orders)"


def test_a_bare_string_is_refused_where_a_list_is_expected(tmp_path: Path) -> None:
    path = _project(tmp_path)
    with pytest.raises(TypeError, match=r"load\(\[.*shop.bronze'\]\)"):
        foundry_dsl.load(str(path))
    with pytest.raises(TypeError, match=r"select=\['shop.orders'\]"):
        foundry_dsl.load([path]).plan(select="shop.orders")
