"""Kinds by name: built-in ones as dotted paths, third-party ones as entry points.

Each registry (source kinds, executors) is a table of ``name → "module:attr"``
plus an entry point group; a kind's module is imported only when the kind is
used, which keeps ``foundry --help`` fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from foundry_dsl.errors import PlanError, did_you_mean


def installed(group: str | None) -> dict[str, str]:
    """The ``name → "module:attr"`` of every entry point of ``group`` (None: no group)."""
    from importlib import metadata

    if group is None:
        return {}
    return {ep.name: ep.value for ep in metadata.entry_points(group=group)}


def names(builtin: Mapping[str, str], group: str | None) -> list[str]:
    return sorted({*builtin, *installed(group)})


def load(builtin: Mapping[str, str], group: str | None, name: str, what: str) -> Any:
    """The object registered as ``name``; a PlanError with did-you-mean for an unknown one."""
    target = builtin.get(name) or installed(group).get(name)
    if target is None:
        known = names(builtin, group)
        hint = did_you_mean(name, known) or f"expected one of: {', '.join(known)}"
        raise PlanError(f"unknown {what} '{name}': {hint}")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
