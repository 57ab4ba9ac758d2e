"""`foundry validate FILE...`: compile, check, then one summary line per pipeline.

Besides compiling, it checks what each source kind can check without running
anything (``Extractor.preflight``) and refuses what would fail every run: a
custom source's module that is not there, a class it does not define. Exit 0
when every file is valid; otherwise every error found and exit 1 (raised as
ConfigError and rendered by the CLI). ``--json`` prints the diagnostics as
data (docs/diagnostics.md), for editors and CI annotations.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from foundry_dsl import ir
from foundry_dsl.errors import ConfigError, Diagnostic, FoundryError, diagnostics_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help=".bronze or YAML files")
    parser.add_argument(
        "--json", action="store_true",
        help="print the diagnostics as JSON, with a stable code each (docs/diagnostics.md)",
    )


def run(args: argparse.Namespace) -> int:
    from foundry_dsl import api

    try:
        project = api.load(args.files)
        problems = source_errors(project.pipelines)
        if problems:
            raise ConfigError(problems)
    except FoundryError as exc:
        if not args.json or getattr(args, "debug", False):
            raise
        return _json(diagnostics_of(exc), 1)
    if args.json:
        pipelines = [
            {"name": p.name, "source_file": p.source_file, "source": p.source.kind,
             "storage": _storage(p)}
            for p in project.pipelines
        ]
        return _json([], 0, {"files": len(args.files), "pipelines": pipelines})
    for p in project.pipelines:
        print(summary(p))
    n = len(project.pipelines)
    print(f"{len(args.files)} file{'s' if len(args.files) != 1 else ''} valid, "
          f"{n} pipeline{'s' if n != 1 else ''}")
    return 0


def source_errors(pipelines: tuple[ir.Pipeline, ...]) -> list[Diagnostic]:
    """What each source kind finds wrong from the IR and the files it names, errors only:
    a warning (a glob that matches nothing yet) depends on when the run happens."""
    from foundry_dsl.planner.build import base_dir
    from foundry_dsl.sources.registry import extractor_class

    found: list[Diagnostic] = []
    for p in pipelines:
        checks = extractor_class(p.source.kind).preflight(p.source, base_dir(p), Path.cwd())
        found.extend(d for d in checks if d.severity == "error" and d not in found)
    return found


def _json(diagnostics: list[Diagnostic], code: int, extra: dict[str, object] | None = None) -> int:
    from foundry_dsl.cli.render.diagnostics_json import render_diagnostics_json

    sys.stdout.write(render_diagnostics_json(diagnostics, extra))
    return code


def _storage(p: ir.Pipeline) -> str:
    return p.platform.storage.kind if p.run.storage_enabled else "local"


def summary(p: ir.Pipeline) -> str:
    layout = p.platform.partition
    return (
        f"ok  {p.name}  {p.source.kind} → {_storage(p)}  "
        f"({layout}, {', '.join(p.run.formats)})  {p.source_file}"
    )
