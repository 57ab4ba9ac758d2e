"""Rendering layer: a Plan as foundry's stable, documented JSON (docs/plan.md).

Keys are sorted, lists keep plan order, there are no wall-clock times other
than the run inputs and no absolute paths other than the ones a user wrote, so
the same inputs give byte-identical output. ``format_version`` changes only
when a key is removed or changes meaning.
"""

from __future__ import annotations

from typing import Any

from foundry_dsl import __version__
from foundry_dsl.cli.render import json_text
from foundry_dsl.planner.partitions import METADATA_FILE, committed_name
from foundry_dsl.planner.plan import PipelinePlan, Plan, describe_source, estimate_json

FORMAT_VERSION = 1


def plan_to_json(plan: Plan) -> dict[str, Any]:
    counts = plan.counts()
    return {
        "format_version": FORMAT_VERSION,
        "foundry_version": __version__,
        "run": {
            "date": plan.run_date.isoformat(),
            "at": plan.run_at.isoformat().replace("+00:00", "Z"),
            "offline": plan.offline,
            "estimate": plan.estimated,
        },
        "pipelines": [pipeline_to_json(p, plan.estimated) for p in plan.pipelines],
        "summary": {
            "pipelines": len(plan.pipelines),
            "create": counts["create"],
            "replace": counts["replace"],
            "unknown": counts["unknown"],
            "blocked": len(plan.blocked()),
            "text": plan.summary_line(),
        },
    }


def pipeline_to_json(pp: PipelinePlan, estimated: bool = False) -> dict[str, Any]:
    p = pp.pipeline
    existing = None
    if pp.existing is not None:
        existing = {
            "records": pp.existing.records,
            "files": pp.existing.files,
            "batch_timestamp": pp.existing.batch_timestamp,
        }
    return {
        "name": pp.name,
        "system": p.system,
        "table": p.table,
        "source_file": p.source_file,
        "source_hash": p.source_hash,
        "action": pp.action,
        "source": {"kind": p.source.kind, "summary": describe_source(p.source)},
        "target": {
            "backend": p.platform.storage.kind if p.run.storage_enabled else "local",
            "root": pp.target_root,
        },
        "partition": {
            "strategy": p.platform.partition,
            "use_dt_partition": p.platform.use_dt_partition,
            "path": pp.partition_path,
            "levels": [{"key": k, "value": v} for k, v in pp.partition_levels],
            "batch_id": pp.batch_id,
        },
        "files": {
            "formats": [
                {"format": o.format, "compression": o.compression,
                 "first": committed_name(1, o.format)}
                for o in pp.settings.outputs
            ],
            "count": None,  # known only while running: one file per chunk and format
            "metadata": METADATA_FILE,
        },
        "limits": {
            "max_rows_per_file": p.run.max_rows_per_file,
            "max_file_size": p.run.max_file_size,
            "workers": p.run.workers,
            "extract_parts": pp.parts,
            "lineage": p.run.lineage,
            "cleanup_on_failure": p.run.cleanup_on_failure,
        },
        "estimate": estimate_json(pp.estimate),
        "estimate_check": {
            "asked": estimated,
            "error": pp.estimate_error,
        },
        "existing": existing,
        "window": None if pp.window is None else {
            **pp.window.to_json(), "description": pp.window.describe(),
        },
        "window_error": pp.window_error,
        "cursor": None if pp.cursor is None else pp.cursor.to_json(),
        "env": [v.to_json() for v in pp.env],
        "warnings": [d.to_json() for d in pp.warnings],
        "blocked": pp.blocked(),
        "allow_empty": pp.request.allow_empty or p.run.allow_empty,
        "storage_check": {
            "checked": pp.action != "unknown",
            "error": pp.unchecked,
        },
        "tasks": [t.to_json() for t in pp.graph],
    }


def render_plan_json(plan: Plan) -> str:
    # json.dumps(..., indent=2, sort_keys=True, ensure_ascii=False), to the character
    return json_text.dumps(plan_to_json(plan)) + "\n"
