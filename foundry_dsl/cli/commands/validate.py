"""`foundry validate FILE...`: compile, then one summary line per pipeline.

Exit 0 when every file is valid; otherwise every error found and exit 1
(raised as ConfigError and rendered by the CLI).
"""

from __future__ import annotations

import argparse

from foundry_dsl import ir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help=".bronze or YAML files")


def run(args: argparse.Namespace) -> int:
    from foundry_dsl import api

    project = api.load(args.files)
    for p in project.pipelines:
        print(summary(p))
    n = len(project.pipelines)
    print(f"{len(args.files)} file{'s' if len(args.files) != 1 else ''} valid, "
          f"{n} pipeline{'s' if n != 1 else ''}")
    return 0


def summary(p: ir.Pipeline) -> str:
    storage = p.platform.storage.kind if p.run.storage_enabled else "local"
    layout = p.platform.partition
    return (
        f"ok  {p.name}  {p.source.kind} → {storage}  "
        f"({layout}, {', '.join(p.run.formats)})  {p.source_file}"
    )
