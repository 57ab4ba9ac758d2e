"""CLI layer: ``foundry state list|show|set|reset``: the stored cursors, without running.

The stored cursor lives beside the data, in the pipeline's storage (the state
store); this command reads or changes it without running anything::

    foundry state list  FILE...                      every pipeline's cursor and last commit
    foundry state show  SYSTEM.TABLE FILE...
    foundry state set   SYSTEM.TABLE CURSOR FILE...
    foundry state reset SYSTEM.TABLE FILE... [--yes]

Files are given after the action's words or with ``-f FILE`` (one file per
``-f``, repeatable), before or after the action, so ``-f`` never swallows the
words that follow it. ``reset`` asks on a terminal; elsewhere it needs ``--yes``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from foundry_dsl import ir
from foundry_dsl.errors import PlanError

if TYPE_CHECKING:
    from foundry_dsl.api import Project
    from foundry_dsl.storage.base import StorageBackend

#: what a pipeline file is called; any other word where files go is a misplaced argument
PIPELINE_SUFFIXES = (".bronze", ".yaml", ".yml")


class _Intermixed(argparse.ArgumentParser):
    """Options and positionals in any order: ``show X -f a.bronze b.bronze`` reads
    ``b.bronze`` as a file too (argparse alone stops the positionals at ``-f``)."""

    _inner = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._inner:
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _file_option(parser, "early_files")
    actions = parser.add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Intermixed
    )
    spec: dict[str, tuple[str, list[str]]] = {
        "list": ("every pipeline's cursor and last commit", []),
        "show": ("a pipeline's stored state, as JSON", ["pipeline"]),
        "set": ("store a new cursor", ["pipeline", "cursor"]),
        "reset": ("forget the cursor: the next run starts from the initial one", ["pipeline"]),
    }
    for name, (help_text, words) in spec.items():
        sub = actions.add_parser(name, help=help_text, description=help_text)
        for word in words:
            if word == "pipeline":
                sub.add_argument("pipeline", metavar="SYSTEM.TABLE")
            else:
                sub.add_argument("cursor", metavar="CURSOR", help="the new cursor")
        sub.add_argument("files", nargs="*", metavar="FILE", help="pipeline files (.bronze or YAML)")
        _file_option(sub, "late_files")
        if name == "reset":
            sub.add_argument(
                "--yes", "-y", action="store_true",
                help="do not ask (needed when stdin is not a terminal)",
            )
        # SUPPRESS: as for every command, `--debug` may come last
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="log DEBUG lines and show tracebacks")


def _file_option(parser: argparse.ArgumentParser, dest: str) -> None:
    parser.add_argument(
        "--file", "-f", action="append", dest=dest, default=[], metavar="FILE",
        help="a pipeline file (repeat -f for more)",
    )


def run(args: argparse.Namespace) -> int:
    from foundry_dsl import api

    files = _files(args)
    project = api.load(files)
    if args.action == "list":
        return _list(project)
    p = _pipeline(project, args.pipeline, files)
    if args.action == "set" and not _has_cursor(p.source):
        raise PlanError(
            f"state set {p.name}: the pipeline is not incremental, so no run would read the cursor; "
            "add incremental { ... } to an api source or incremental_key to a db source"
        )
    backend = _backend(p)
    store = _store(backend)
    if args.action == "show":
        state = store.get(p.system, p.table)
        if state is None:
            print(f"{p.name}: no stored state (the next run starts from the initial cursor)")
        else:
            sys.stdout.write(json.dumps(state, indent=2, sort_keys=True, default=str) + "\n")
        return 0
    if args.action == "set":
        store.set_cursor(p.system, p.table, args.cursor, set_by="foundry state set")
        print(f"{p.name}: cursor set to {args.cursor}")
        return 0
    if not args.yes and not _confirmed(p, store.url(p.system, p.table)):
        print(f"{p.name}: state left as it is", file=sys.stderr)
        return 1
    store.reset(p.system, p.table)
    print(f"{p.name}: state reset (the next run starts from the initial cursor)")
    return 0


def _files(args: argparse.Namespace) -> list[str]:
    """The pipeline files, wherever they were written; a stray word is named as such."""
    for word in args.files:
        if args.action in ("show", "reset") and not word.endswith(PIPELINE_SUFFIXES):
            # `state show X 2025-01-01`: a cursor where only `set` takes one
            from pathlib import Path

            if not Path(word).exists():
                raise PlanError(
                    f"state {args.action} {args.pipeline}: unexpected argument {word!r}; "
                    "only `state set` takes a cursor"
                )
    if args.action == "set" and args.cursor.endswith(PIPELINE_SUFFIXES) and not args.files:
        # `state set X FILE`: the file took the cursor's place
        raise PlanError(
            f"state set {args.pipeline}: give the new cursor before the files, e.g. "
            f"`foundry state set {args.pipeline} 2025-01-01T00:00:00Z {args.cursor}`"
        )
    files = [*args.early_files, *args.files, *args.late_files]
    if not files:
        words = " ".join(
            [args.action, *(w for w in (getattr(args, "pipeline", None),
                                        getattr(args, "cursor", None)) if w)]
        )
        raise PlanError(
            f"state {words}: name the pipeline files, e.g. "
            f"`foundry state {words} pipelines/shop.bronze` (or -f FILE)"
        )
    return files


def _pipeline(project: Project, name: str, files: list[str]) -> ir.Pipeline:
    from foundry_dsl.errors import did_you_mean

    try:
        return project.ir.pipeline(name)
    except KeyError:
        names = [q.name for q in project.pipelines]
        hint = did_you_mean(name, names)
        raise PlanError(
            f"no pipeline {name} in {', '.join(files)}"
            + (f"; {hint}" if hint else f" (pipelines: {', '.join(sorted(names))})")
        ) from None


def _backend(p: ir.Pipeline) -> StorageBackend:
    from foundry_dsl.storage.registry import backend_for

    return backend_for(p)


def _store(backend: StorageBackend) -> Any:
    from foundry_dsl.storage.api import state_store

    return state_store(backend)


def _confirmed(p: ir.Pipeline, where: str) -> bool:
    """Ask on a terminal; elsewhere nobody can answer, so ``--yes`` is required."""
    if not sys.stdin.isatty():
        raise PlanError(
            f"state reset {p.name}: stdin is not a terminal, so foundry cannot ask; "
            "run again with --yes to reset the stored cursor"
        )
    print(
        f"Reset the stored state of {p.name} ({where})? The next run starts from the "
        "initial cursor. [y/N] ",
        end="", file=sys.stderr, flush=True,
    )
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _has_cursor(source: ir.Source) -> bool:
    """Whether a run starts from the stored cursor (a custom class may use it as it likes)."""
    from foundry_dsl.sources.registry import extractor_class

    return extractor_class(source.kind).keeps_cursor(source) is not False


# --- list ------------------------------------------------------------------------------


def _list(project: Project) -> int:
    from foundry_dsl.cli.render.state_table import Row, state_table

    rows = []
    for p in sorted(project.pipelines, key=lambda q: q.name):
        backend = _backend(p)
        state = _store(backend).get(p.system, p.table) if _has_cursor(p.source) else None
        rows.append(Row(
            name=p.name,
            incremental=_has_cursor(p.source),
            cursor=None if state is None else state.get("cursor"),
            pending=bool(state and state.get("pending")),
            last=last_commit(backend, p),
        ))
    sys.stdout.write(state_table(rows))
    return 0


def last_commit(backend: StorageBackend, p: ir.Pipeline) -> dict[str, Any] | None:
    """The newest committed ``_metadata.json`` of the pipeline's table (by its batch
    time, then its path), or None when nothing is committed."""
    from foundry_dsl.storage.api import committed_metadata
    from foundry_dsl.storage.layout import METADATA_FILE

    prefix = f"system={p.system}/table={p.table}"
    suffix = "/" + METADATA_FILE
    found = []
    for path in backend.list_files(prefix):
        if path.endswith(suffix):
            meta = committed_metadata(backend, path[: -len(suffix)])
            if meta is not None:
                found.append((str(meta.get("batch_timestamp") or ""), path, meta))
    return max(found, key=lambda t: (t[0], t[1]))[2] if found else None
