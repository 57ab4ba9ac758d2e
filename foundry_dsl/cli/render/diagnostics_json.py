"""Rendering layer: diagnostics as JSON, for editors and CI annotations.

``validate --json`` always prints this document; ``plan --json`` prints it
instead of a plan when the files do not compile or the plan cannot be built.
Each diagnostic carries its position, a stable code and name
(:data:`foundry_dsl.errors.CODES`, docs/diagnostics.md), severity, message
and help. Keys are sorted and diagnostics keep their order (by position), so
the same input gives byte-identical output. No quoted source line is included,
so a secret written in a file never appears.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from foundry_dsl import __version__
from foundry_dsl.errors import Diagnostic

FORMAT_VERSION = 1


def diagnostics_document(
    diagnostics: Sequence[Diagnostic], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    errors = sum(d.severity == "error" for d in diagnostics)
    return {
        "format_version": FORMAT_VERSION,
        "foundry_version": __version__,
        "ok": errors == 0,
        "diagnostics": [d.to_json() for d in diagnostics],
        "summary": {"errors": errors, "warnings": len(diagnostics) - errors},
        **(extra or {}),
    }


def render_diagnostics_json(
    diagnostics: Iterable[Diagnostic], extra: dict[str, Any] | None = None
) -> str:
    doc = diagnostics_document(list(diagnostics), extra)
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
