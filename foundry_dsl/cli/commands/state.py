"""CLI layer: ``foundry state show|set|reset PIPELINE --file FILE...``.

The stored cursor lives beside the data, in the pipeline's storage (the state
store); this command reads or changes it without running anything.
"""

from __future__ import annotations

import argparse
import json
import sys

from foundry_dsl import ir
from foundry_dsl.errors import PlanError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["show", "set", "reset"])
    parser.add_argument("pipeline", metavar="SYSTEM.TABLE")
    parser.add_argument("cursor", nargs="?", help="the new cursor (for set)")
    parser.add_argument(
        "--file", "-f", nargs="+", required=True, metavar="FILE", help="pipeline files that define it"
    )


def run(args: argparse.Namespace) -> int:
    from foundry_dsl import api
    from foundry_dsl.errors import did_you_mean
    from foundry_dsl.storage.api import state_store
    from foundry_dsl.storage.registry import backend_for

    project = api.load(args.file)
    try:
        p = project.ir.pipeline(args.pipeline)
    except KeyError:
        names = [q.name for q in project.pipelines]
        hint = did_you_mean(args.pipeline, names)
        raise PlanError(
            f"no pipeline {args.pipeline} in {', '.join(args.file)}"
            + (f"; {hint}" if hint else f" (pipelines: {', '.join(sorted(names))})")
        ) from None
    if args.action != "set" and args.cursor is not None:
        raise PlanError(
            f"state {args.action} {p.name}: unexpected argument {args.cursor!r}; "
            "only `state set` takes a cursor"
        )
    if args.action == "set" and not _has_cursor(p.source):
        raise PlanError(
            f"state set {p.name}: the pipeline is not incremental, so no run would read the cursor; "
            "add incremental { ... } to an api source or incremental_key to a db source"
        )
    store = state_store(backend_for(p))
    if args.action == "show":
        state = store.get(p.system, p.table)
        if state is None:
            print(f"{p.name}: no stored state (the next run starts from the initial cursor)")
        else:
            sys.stdout.write(json.dumps(state, indent=2, sort_keys=True, default=str) + "\n")
        return 0
    if args.action == "set":
        if args.cursor is None:
            raise PlanError(f"state set {p.name}: give the new cursor, e.g. `foundry state set {p.name} 2025-01-01T00:00:00Z -f FILE`")
        store.set_cursor(p.system, p.table, args.cursor, set_by="foundry state set")
        print(f"{p.name}: cursor set to {args.cursor}")
        return 0
    store.reset(p.system, p.table)
    print(f"{p.name}: state reset (the next run starts from the initial cursor)")
    return 0


def _has_cursor(source: ir.Source) -> bool:
    """Whether a run starts from the stored cursor (a custom class may use it as it likes)."""
    from foundry_dsl.sources.registry import extractor_class

    return extractor_class(source.kind).keeps_cursor(source) is not False
