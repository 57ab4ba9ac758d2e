"""Front-end layer: the fix for a value written the wrong way, as help text.

Shared by both front ends through ``frontends.lower``: one value where a list
belongs (``formats = parquet`` → ``formats = [parquet]``), a size or duration
written in quotes and loosely (``"5 mb"`` → ``5MB``). The help shows the
user's own value, written the way the file's syntax takes it (``key = value``
in ``.bronze``, ``key: value`` in YAML).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter, ValidationError

from foundry_dsl.frontends.positioned import PScalar, UnitKind, written_quantity


def list_fix(key: str, node: PScalar, value: Any, adapter: TypeAdapter[Any]) -> str | None:
    """``write it as a list: formats = [parquet]`` for a single ``value`` (written as
    ``node``), when the list of it is valid (``adapter`` checks the field's type)."""
    try:
        adapter.validate_python([value])
    except ValidationError:
        return None
    yaml = node.pos is not None and node.pos.file.endswith((".yaml", ".yml"))
    return f"write it as a list: {key}{': ' if yaml else ' = '}[{_written(node)}]"


def quantity_fix(value: object, unit: UnitKind) -> str | None:
    """``write 5MB without quotes`` for a quoted ``"5 mb"`` in a size field."""
    fix = written_quantity(value, unit) if isinstance(value, str) else None
    return f"write {fix} without quotes" if fix else None


def _written(node: PScalar) -> str:
    """A scalar as it would be written in a list: a name bare, a string quoted."""
    v = node.value
    if isinstance(v, bool):
        return str(v).lower()
    if node.is_ident or isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))
