"""PostgreSQL connection URLs beside ODBC connection strings: recognise, convert, redact.

Part of the database source. A ``postgresql://`` (or ``postgres://``) URL picks
the ADBC link; ``driver = odbc`` turns such a URL into a psqlODBC connection
string, and ``driver = adbc`` turns a psqlODBC connection string into libpq
keyword/value settings. Hands the links the string their driver takes, what
messages may show of it (password as ``***``) and the secret values in it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from foundry_dsl import urls
from foundry_dsl.sources.sql import connstr

SCHEMES = ("postgresql://", "postgres://")
#: the ODBC driver a URL is read through when ``driver = odbc`` (Debian's odbc-postgresql)
ODBC_DRIVER = "PostgreSQL Unicode"

# psqlODBC keys (lower case) → libpq keywords; the first of each group wins
_ODBC_TO_LIBPQ = {
    "server": "host", "servername": "host", "host": "host",
    "port": "port",
    "database": "dbname", "dbname": "dbname",
    "uid": "user", "username": "user", "user": "user",
    "pwd": "password", "password": "password",
    "sslmode": "sslmode",
}


def is_url(conn: str) -> bool:
    return conn.strip().lower().startswith(SCHEMES)


def to_libpq(conn: str) -> str:
    """What libpq (the ADBC driver) connects with: a URL as written; a psqlODBC
    connection string as ``host='...' port='...' ...`` keyword/value settings."""
    if is_url(conn):
        return conn.strip()
    if not connstr.is_postgres(conn) and connstr.get(conn, "Driver") is not None:
        raise ValueError("driver = adbc reads PostgreSQL only; this connection string names "
                         f"another ODBC driver ({connstr.get(conn, 'Driver')})")
    settings: dict[str, str] = {}
    for key, value in connstr.parse(conn):
        name = _ODBC_TO_LIBPQ.get(key.lower())
        if name and name not in settings:
            settings[name] = value
    return " ".join(f"{k}='{_libpq_quote(v)}'" for k, v in settings.items())


def to_odbc(url: str) -> str:
    """A psqlODBC connection string for ``url`` (user, password, host, port, database,
    sslmode); other URL parameters have no ODBC spelling and are refused."""
    parts = urlsplit(url.strip())
    pairs = {
        "Driver": ODBC_DRIVER,
        "Server": parts.hostname or "localhost",
        "Port": str(parts.port or 5432),
        "Database": unquote(parts.path.lstrip("/")) or unquote(parts.username or ""),
        "UID": unquote(parts.username or ""),
        "PWD": unquote(parts.password or ""),
    }
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name.lower() != "sslmode":
            raise ValueError(f"driver = odbc: URL parameter {name!r} has no ODBC equivalent; "
                             "write an ODBC connection string instead")
        pairs["SSLMode"] = value
    return "".join(f"{k}={_odbc_value(v)};" for k, v in pairs.items() if v)


def shown(conn: str) -> str:
    """``conn`` as messages show it: a URL's userinfo and secret parameters, an ODBC
    string's secret values, as ``***``."""
    return urls.redact_url(conn.strip()) if is_url(conn) else connstr.redacted(conn)


def secrets(conn: str) -> list[str]:
    """The whole string and every secret value in it, as written and decoded."""
    if is_url(conn):
        return [conn, *urls.url_secrets(conn.strip())]
    found = connstr.secrets(conn)
    for key, value in connstr.parse(conn):
        if _ODBC_TO_LIBPQ.get(key.lower()) == "password" and value:
            found.append(_libpq_quote(value))  # as it stands in the libpq settings
    return list(dict.fromkeys(found))


def _libpq_quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _odbc_value(value: str) -> str:
    return "{" + value.replace("}", "}}") + "}" if any(c in value for c in ";{}= ") else value
