"""Constructors for the JSON Schema fragments the YAML schema is written in.

Front-end layer. Each helper returns one draft 2020-12 fragment (a section
that refuses unknown keys, a string, an environment variable's name, ...) so
that :mod:`.schema` reads as the shape of a config file, not as JSON Schema
boilerplate. :data:`ENV_NAME_PATTERN` is shared with :mod:`.checks`, which
words a mismatch of it as "a value where a NAME belongs".
"""

from __future__ import annotations

import re
from typing import Any

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ENV_NAME_RE = re.compile(ENV_NAME_PATTERN)


def obj(description: str, properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A section that allows only the keys in ``properties``."""
    out: dict[str, Any] = {
        "type": "object",
        "description": description,
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    return out


def string(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def env_name(description: str) -> dict[str, Any]:
    """An environment variable's NAME (never its value)."""
    return {
        "type": "string",
        "pattern": ENV_NAME_PATTERN,
        "description": f"{description} Name of an environment variable, not the value itself.",
    }


def boolean(description: str, default: bool) -> dict[str, Any]:
    return {"type": "boolean", "description": description, "default": default}


def integer(description: str, minimum: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, "minimum": minimum, **extra}


def number(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "number", "description": description, **extra}


def enum(description: str, choices: list[str], default: str) -> dict[str, Any]:
    return {"type": "string", "enum": choices, "description": description, "default": default}


def env_ref() -> dict[str, Any]:
    return obj(
        "A value read from the environment at run time: {env: NAME}.",
        {"env": env_name("The variable holding the value.")},
        ("env",),
    )


def free_map(description: str) -> dict[str, Any]:
    """key → scalar, or {env: NAME} for a value that must not be in the file."""
    return {
        "type": "object",
        "description": description,
        "additionalProperties": {
            "anyOf": [{"type": ["string", "number", "boolean"]}, env_ref()],
        },
    }


def requires(key: str, value: str, required: list[str]) -> dict[str, Any]:
    """``key: value`` makes ``required`` mandatory (for editors; :mod:`.checks` skips it)."""
    return {
        "if": {"properties": {key: {"const": value}}, "required": [key]},
        "then": {"required": required},
    }

