"""The task graph: deterministic order, the pipeline shape, and cycle errors."""

from __future__ import annotations

import pickle

import pytest

from foundry_dsl import ir
from foundry_dsl.cli.render.graph_text import chain, to_dot, to_mermaid
from foundry_dsl.errors import PlanError
from foundry_dsl.planner.build import task_graph
from foundry_dsl.planner.graph import Task, TaskGraph
from tests.planner.helpers import pipeline


def test_tasks_come_in_dependency_order_with_ties_sorted_by_id() -> None:
    g = TaskGraph([Task("c", "commit", ("b", "a")), Task("b", "write", ("a",)), Task("a", "extract")])
    assert [t.id for t in g] == ["a", "b", "c"]


def test_order_does_not_depend_on_insertion_order() -> None:
    tasks = [Task("x2", "extract"), Task("x1", "extract"), Task("c", "chunk", ("x2", "x1"))]
    assert [t.id for t in TaskGraph(tasks)] == [t.id for t in TaskGraph(reversed(tasks))]


def test_a_cycle_is_refused_and_printed() -> None:
    with pytest.raises(PlanError, match=r"cycle: a -> b -> c -> a"):
        TaskGraph([Task("a", "extract", ("c",)), Task("b", "chunk", ("a",)), Task("c", "write", ("b",))])


def test_an_unknown_dependency_is_refused() -> None:
    with pytest.raises(PlanError, match="'b' depends on unknown task 'zz'"):
        TaskGraph([Task("b", "write", ("zz",))])


def test_pipeline_graph_has_one_write_per_format_and_a_dynamic_chunk() -> None:
    g = task_graph(pipeline(formats=("parquet", "csv")), "system=shop/table=orders/", 1)
    assert chain(g) == "extract[0] -> chunk[*] -> write[csv], write[parquet] -> upload -> commit"
    assert g["chunk[*]"].dynamic
    assert g["write[parquet]"].params["compression"] == "snappy"
    assert g["write[csv]"].params["compression"] == "none"


def test_a_range_partitioned_query_gets_one_extract_task_per_range() -> None:
    src = ir.DbSource(
        connection=ir.EnvRef(name="DSN"), query="select 1", partition_column="id", partitions=3
    )
    g = task_graph(pipeline(source=src), "p/", 3)
    assert [t.id for t in g.of_kind("extract")] == ["extract[0]", "extract[1]", "extract[2]"]
    assert g["chunk[*]"].deps == ("extract[0]", "extract[1]", "extract[2]")


def test_tasks_pickle() -> None:
    g = task_graph(pipeline(), "p/", 1)
    assert [pickle.loads(pickle.dumps(t)) for t in g] == list(g)


def test_mermaid_marks_dynamic_tasks_and_draws_every_edge() -> None:
    text = to_mermaid([("shop.orders", task_graph(pipeline(), "p/", 1))])
    assert text == (
        "flowchart LR\n"
        '  subgraph shop_orders["shop.orders"]\n'
        '    shop_orders__extract_0_["extract[0]"]\n'
        '    shop_orders__chunk___[["chunk[*] (dynamic)"]]\n'
        '    shop_orders__write_parquet_[["write[parquet] (dynamic)"]]\n'
        '    shop_orders__upload[["upload (dynamic)"]]\n'
        '    shop_orders__commit["commit"]\n'
        "    shop_orders__extract_0_ --> shop_orders__chunk___\n"
        "    shop_orders__chunk___ --> shop_orders__write_parquet_\n"
        "    shop_orders__write_parquet_ --> shop_orders__upload\n"
        "    shop_orders__upload --> shop_orders__commit\n"
        "  end\n"
    )


def test_dot_has_one_cluster_per_pipeline() -> None:
    g = task_graph(pipeline(), "p/", 1)
    text = to_dot([("a.b", g), ("c.d", g)])
    assert text.count("subgraph cluster_") == 2
    assert "a_b__upload -> a_b__commit;" in text
    assert text.startswith("digraph foundry {\n") and text.endswith("}\n")
