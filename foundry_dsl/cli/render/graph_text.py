"""Rendering layer: task graphs as mermaid, dot, and a one-line chain for plans."""

from __future__ import annotations

import re

from foundry_dsl.planner.graph import Task, TaskGraph


def chain(graph: TaskGraph) -> str:
    """``extract[0] -> chunk[*] -> write[parquet], write[csv] -> upload -> commit``."""
    stages: list[list[str]] = []
    kinds: list[str] = []
    for t in graph:
        if kinds and kinds[-1] == t.kind:
            stages[-1].append(t.id)
        else:
            kinds.append(t.kind)
            stages.append([t.id])
    return " -> ".join(", ".join(s) for s in stages)


def _node_id(pipeline: str, task: Task) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{pipeline}__{task.id}").replace("*", "all")


def _label(task: Task) -> str:
    return f"{task.id} (dynamic)" if task.dynamic else task.id


def to_mermaid(graphs: list[tuple[str, TaskGraph]]) -> str:
    lines = ["flowchart LR"]
    for name, graph in graphs:
        lines.append(f'  subgraph {_safe(name)}["{name}"]')
        for t in graph:
            shape = ("[[", "]]") if t.dynamic else ("[", "]")
            lines.append(f'    {_node_id(name, t)}{shape[0]}"{_label(t)}"{shape[1]}')
        for dep, tid in graph.edges():
            lines.append(f"    {_node_id(name, graph[dep])} --> {_node_id(name, graph[tid])}")
        lines.append("  end")
    return "\n".join(lines) + "\n"


def to_dot(graphs: list[tuple[str, TaskGraph]]) -> str:
    lines = ["digraph foundry {", "  rankdir=LR;", "  node [shape=box];"]
    for i, (name, graph) in enumerate(graphs):
        lines.append(f"  subgraph cluster_{i} {{")
        lines.append(f'    label="{name}";')
        for t in graph:
            style = ", style=dashed" if t.dynamic else ""
            lines.append(f'    {_node_id(name, t)} [label="{_label(t)}"{style}];')
        for dep, tid in graph.edges():
            lines.append(f"    {_node_id(name, graph[dep])} -> {_node_id(name, graph[tid])};")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)
