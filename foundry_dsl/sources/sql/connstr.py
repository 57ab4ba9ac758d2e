"""ODBC connection strings: parse, tune for streaming, and redact.

Part of the database source. Hands ``db`` a connection string that streams
(psqlODBC otherwise buffers a whole result in client memory) and the secret
values that logs, errors and metadata must never show.
"""

from __future__ import annotations

import re

from foundry_dsl.errors import redact

SECRET_KEYS = frozenset(
    {"pwd", "password", "secret", "token", "accesstoken", "clientsecret", "accountkey", "key"}
)
_PAIR = re.compile(r"\s*([^=;]+?)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)\s*(?:;|$)")


def parse(conn_str: str) -> list[tuple[str, str]]:
    """Key/value pairs in order; ``{...}`` values are unwrapped (``}}`` means ``}``)."""
    pairs = []
    for m in _PAIR.finditer(conn_str):
        key, value = m.group(1), m.group(2).strip()
        if value.startswith("{") and value.endswith("}"):
            value = value[1:-1].replace("}}", "}")
        pairs.append((key, value))
    return pairs


def get(conn_str: str, key: str) -> str | None:
    for k, v in parse(conn_str):
        if k.lower() == key.lower():
            return v
    return None


def is_postgres(conn_str: str) -> bool:
    driver = (get(conn_str, "Driver") or get(conn_str, "DSN") or "").lower()
    return "postgres" in driver or "psqlodbc" in driver


def is_sqlite(conn_str: str) -> bool:
    return "sqlite" in (get(conn_str, "Driver") or "").lower()


def tuned(conn_str: str, batch_size: int) -> str:
    """The connection string with psqlODBC's streaming and typing options added when absent.

    ``UseDeclareFetch=1;Fetch=n`` makes psqlODBC read through a server-side cursor n rows
    at a time instead of buffering the whole result; ``BoolsAsChar=0`` reports booleans
    as booleans rather than '0'/'1' text. A value the user wrote is never overridden.
    """
    if not is_postgres(conn_str):
        return conn_str
    present = {k.lower() for k, _ in parse(conn_str)}
    extra = {"UseDeclareFetch": "1", "Fetch": str(min(batch_size, 100_000)), "BoolsAsChar": "0"}
    add = "".join(f"{k}={v};" for k, v in extra.items() if k.lower() not in present)
    if not add:
        return conn_str
    sep = "" if conn_str.rstrip().endswith(";") or not conn_str.strip() else ";"
    return conn_str.rstrip() + sep + add


def sized(conn_str: str, text_size: int) -> str:
    """For psqlODBC: report text columns ``text_size`` wide (it says 8,190 for ``text`` and
    255 for ``varchar`` without a length, whatever the data), so buffers fit the probed data."""
    if not is_postgres(conn_str):
        return conn_str
    present = {k.lower() for k, _ in parse(conn_str)}
    extra = {"MaxLongVarcharSize": str(text_size), "MaxVarcharSize": str(text_size)}
    add = "".join(f"{k}={v};" for k, v in extra.items() if k.lower() not in present)
    sep = "" if conn_str.rstrip().endswith(";") else ";"
    return conn_str.rstrip() + sep + add if add else conn_str


def secrets(conn_str: str) -> list[str]:
    """The whole string and every secret value in it (passwords, keys, tokens)."""
    found = [conn_str]
    for k, v in parse(conn_str):
        if k.lower().replace("_", "") in SECRET_KEYS and v:
            found.extend({v, "{" + v.replace("}", "}}") + "}"})
    return found


def redacted(conn_str: str) -> str:
    """The connection string with secret values replaced by ``***``, for messages."""
    out = []
    for k, v in parse(conn_str):
        shown = "***" if k.lower().replace("_", "") in SECRET_KEYS else v
        if shown is v and any(c in v for c in ";{}"):
            shown = "{" + v.replace("}", "}}") + "}"
        out.append(f"{k}={shown}")
    return ";".join(out) + ";"


def scrub(text: str, conn_str: str) -> str:
    """``text`` with the connection string's secrets removed (the string itself shown redacted)."""
    text = text.replace(conn_str, redacted(conn_str))
    return redact(text, secrets(conn_str)[1:])
