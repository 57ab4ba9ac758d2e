"""Planner layer: where a run's start cursor comes from, for people to see.

An incremental run starts after a cursor. The original tool read it from an
environment variable only (unset: a full load); foundry also keeps its own
state beside the data, so an unset variable no longer means a full reload.
:class:`CursorOrigin` names the source of the start, decided by the same
window :func:`foundry_dsl.planner.windows.resolve` gives ``apply``, so ``plan``
can say it: a variable, ``--from``, the stored state, the partition's last
commit, or none (a full load). Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from foundry_dsl.planner.windows import Window, WindowRequest

Origin = Literal["flag", "env", "state", "commit", "none", "unknown"]


@dataclass(frozen=True)
class CursorOrigin:
    """Where the start cursor of a run comes from."""

    origin: Origin
    env: str | None = None  # the variable: set (origin env), or unset and so not used
    full_refresh: bool = False  # origin none because of --full-refresh

    def describe(self) -> str:
        if self.origin == "flag":
            return "from --from on the command line"
        if self.origin == "env":
            return f"from environment variable {self.env} (it wins over the stored state)"
        if self.origin == "state":
            return "from the stored state (where the newest commit's rows end)"
        if self.origin == "commit":
            return "from this partition's last commit (where its rows start)"
        if self.origin == "none":
            why = "--full-refresh" if self.full_refresh else "nothing stored or committed yet"
            return f"none: a full load ({why})"
        unset = f"; {self.env} is not set" if self.env else ""
        return ("from the stored state or the partition's last commit, else a full load "
                f"(storage not checked{unset})")

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.origin, "env": self.env, "description": self.describe()}


def from_window(window: Window, request: WindowRequest, env: str | None) -> CursorOrigin:
    """The origin of a resolved window's start (``env``: the cursor variable's name)."""
    if window.kind == "full-refresh":
        return CursorOrigin("none", full_refresh=True)
    if window.kind == "explicit":
        return CursorOrigin("flag") if request.start is not None else CursorOrigin("env", env)
    if window.kind in ("extend", "replay"):
        return CursorOrigin("commit")
    return CursorOrigin("state") if window.start is not None else CursorOrigin("none")


def unresolved(request: WindowRequest, env: str | None, env_set: bool) -> CursorOrigin:
    """The origin when storage was not looked at: known only when given or set."""
    if request.full_refresh:
        return CursorOrigin("none", full_refresh=True)
    if request.start is not None:
        return CursorOrigin("flag")
    if env is not None and env_set:
        return CursorOrigin("env", env)
    return CursorOrigin("unknown", env)
