"""CLI layer: ``foundry graph FILE... --format mermaid|dot``: the task graphs, for docs."""

from __future__ import annotations

import argparse
import sys

from foundry_dsl.cli.commands.plan import add_run_arguments, build_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    parser.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")


def run(args: argparse.Namespace) -> int:
    from foundry_dsl.cli.render.graph_text import to_dot, to_mermaid

    plan = build_from_args(args, look_up_storage=False)
    graphs = [(p.name, p.graph) for p in plan.pipelines]
    sys.stdout.write(to_mermaid(graphs) if args.format == "mermaid" else to_dot(graphs))
    return 0
