"""The YAML front end's shape, as a JSON Schema, and a positioned checker for it.

Front-end layer. :func:`schema` is the JSON Schema (draft 2020-12) of the
original tool's YAML (``platform:`` / ``source:``), with foundry's documented
additions; ``foundry schema`` prints it for editors' YAML language servers.
The same dict drives :func:`check`, which walks the positioned tree of one
YAML document and reports unknown keys (with "did you mean"), wrong types,
bad enum members and missing keys in the spec's own vocabulary, at the line
and column they were written. ``frontends.yaml`` calls it before translating
to the IR, whose field names differ from the spec's.

:func:`check` understands the subset of JSON Schema used here: ``type``,
``enum``, ``properties``, ``additionalProperties``, ``required``,
``minimum``/``maximum``/``exclusiveMinimum``, ``pattern``, ``items``,
``minItems``/``maxItems`` and ``anyOf``. Rules that depend on another key's
value (``source.type: db`` needs ``source.db``) are written as ``allOf`` /
``if`` / ``then`` for editors and checked by ``frontends.yaml`` itself, which
can word them better.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from foundry_dsl.errors import Diagnostic, Position, did_you_mean
from foundry_dsl.frontends.lower import describe_value
from foundry_dsl.frontends.positioned import Env, PList, PMap, PNode, PScalar

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ENV_NAME_RE = re.compile(ENV_NAME_PATTERN)

STRATEGIES = ["date", "hourly", "timestamp", "batch_id", "none"]
COMPRESSIONS = ["snappy", "gzip", "brotli", "lz4", "zstd", "none"]
BACKENDS = ["s3", "azure", "gcs", "local"]
SOURCE_TYPES = ["api", "db", "custom", "files"]
AUTH_TYPES = ["none", "bearer", "api_key", "basic", "oauth2"]
PAGINATION_TYPES = ["none", "offset", "page", "cursor", "link", "next_url"]
FILE_FORMATS = ["auto", "csv", "json", "ndjson", "parquet"]


# --- building blocks -----------------------------------------------------------------


def _obj(description: str, properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "description": description,
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    return out


def _str(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _env(description: str) -> dict[str, Any]:
    """An environment variable's NAME (never its value)."""
    return {
        "type": "string",
        "pattern": ENV_NAME_PATTERN,
        "description": f"{description} Name of an environment variable, not the value itself.",
    }


def _bool(description: str, default: bool) -> dict[str, Any]:
    return {"type": "boolean", "description": description, "default": default}


def _int(description: str, minimum: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": "integer", "description": description, "minimum": minimum, **extra}


def _num(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "number", "description": description, **extra}


def _enum(description: str, choices: list[str], default: str) -> dict[str, Any]:
    return {"type": "string", "enum": choices, "description": description, "default": default}


def _env_ref() -> dict[str, Any]:
    return _obj(
        "A value read from the environment at run time: {env: NAME}.",
        {"env": _env("The variable holding the value.")},
        ("env",),
    )


def _free_map(description: str) -> dict[str, Any]:
    """key → scalar, or {env: NAME} for a value that must not be in the file."""
    return {
        "type": "object",
        "description": description,
        "additionalProperties": {
            "anyOf": [{"type": ["string", "number", "boolean"]}, _env_ref()],
        },
    }


def _requires(key: str, value: str, required: list[str]) -> dict[str, Any]:
    return {
        "if": {"properties": {key: {"const": value}}, "required": [key]},
        "then": {"required": required},
    }


# --- the shape -----------------------------------------------------------------------


def _platform() -> dict[str, Any]:
    bronze = _obj(
        "Where and how Bronze data is laid out.",
        {
            "storage_backend": _enum("Where Bronze files are uploaded.", BACKENDS, "s3"),
            "s3_bucket": _str("S3 bucket (storage_backend s3)."),
            "s3_prefix": _str("Key prefix for all Bronze data in the bucket.", default=""),
            "s3_region": _str("AWS region of the bucket."),
            "azure_container": _str("Azure Blob / ADLS Gen2 container (storage_backend azure)."),
            "azure_prefix": _str("Path prefix inside the container.", default=""),
            "gcs_bucket": _str("Google Cloud Storage bucket (storage_backend gcs)."),
            "gcs_prefix": _str("Path prefix inside the bucket.", default=""),
            "local_path": _str("Root folder (storage_backend local).", default="./output"),
            "partitioning": _obj(
                "Partition folders under system=/table=.",
                {
                    "use_dt_partition": _bool("Include the dt=YYYY-MM-DD folder.", True),
                    "partition_strategy": _enum(
                        "date: dt=; hourly: dt=/hour=; timestamp: dt=/batch=; "
                        "batch_id: dt=/batch_id=; none: no time partition.",
                        STRATEGIES,
                        "date",
                    ),
                },
            ),
            "output_defaults": _obj(
                "Formats the platform allows, and Parquet settings.",
                {
                    "allow_csv": _bool("Pipelines may write CSV.", True),
                    "allow_parquet": _bool("Pipelines may write Parquet.", True),
                    "parquet_compression": _enum("Parquet codec.", COMPRESSIONS, "snappy"),
                },
            ),
        },
    )
    bronze["allOf"] = [
        _requires("storage_backend", "azure", ["azure_container"]),
        _requires("storage_backend", "gcs", ["gcs_bucket"]),
        {
            "if": {
                "anyOf": [
                    {"not": {"required": ["storage_backend"]}},
                    {"properties": {"storage_backend": {"const": "s3"}}},
                ]
            },
            "then": {"required": ["s3_bucket"]},
        },
    ]
    return _obj(
        "Owned by the data platform team: storage, partitioning, formats.",
        {
            "bronze": bronze,
            "s3_connection": _obj(
                "S3 credentials and endpoint, as environment variable names.",
                {
                    "endpoint_url_env": _env("Endpoint URL (MinIO, other S3-compatible stores)."),
                    "endpoint_url": _str("Endpoint URL written in the file (not a secret)."),
                    "access_key_env": _env("Access key id."),
                    "secret_key_env": _env("Secret access key."),
                    "region_env": _env("AWS region."),
                },
            ),
            "azure_connection": _obj(
                "Azure credentials, as environment variable names.",
                {
                    "connection_string_env": _env("Storage account connection string."),
                    "account_name_env": _env("Storage account name."),
                    "account_name": _str("Storage account name written in the file."),
                    "account_key_env": _env("Storage account key."),
                    "sas_token_env": _env("SAS token."),
                },
            ),
            "gcs_connection": _obj(
                "Google Cloud Storage settings.",
                {
                    "project": _str("GCP project id."),
                    "project_env": _env("GCP project id."),
                    "credentials_env": _env("Path of a service-account JSON file."),
                    "endpoint_url": _str("Endpoint of an emulator; real GCS when absent."),
                    "endpoint_url_env": _env("Endpoint of an emulator."),
                },
            ),
        },
        ("bronze",),
    )


def _api() -> dict[str, Any]:
    pagination = _obj(
        "How to fetch every page.",
        {
            "type": _enum("Pagination style.", PAGINATION_TYPES, "none"),
            "records_path": {
                "type": ["string", "null"],
                "description": "Dotted path (or JSONPath) of the records list in each response; "
                "null or absent: the body is the list.",
            },
            "max_pages": _int("Stop after this many pages.", 1),
            "offset_param": _str("offset: query parameter for the offset.", default="offset"),
            "limit_param": _str("offset: query parameter for the page size.", default="limit"),
            "page_size": _int("offset/page: records per page.", 1, default=100),
            "total_path": _str("offset: path of the total record count in the body."),
            "page_param": _str("page: query parameter for the page number.", default="page"),
            "page_size_param": _str("page: query parameter for the page size.", default="page_size"),
            "start_page": _int("page: number of the first page.", 0, default=1),
            "total_pages_path": _str("page: path of the page count in the body."),
            "cursor_param": _str("cursor: query parameter for the cursor.", default="cursor"),
            "cursor_path": _str("cursor: path of the next cursor in the body.", default="next_cursor"),
            "cursor_header": _str("cursor: response header holding the next cursor."),
            "cursor_field": _str("cursor: the last record's field used as the next cursor."),
            "has_more_path": _str("cursor: path of a boolean 'more pages' flag."),
            "rel": _str("link: the Link header relation to follow.", default="next"),
            "next_url_path": _str("next_url: path of the next page's URL in the body."),
        },
    )
    pagination["allOf"] = [_requires("type", "next_url", ["next_url_path"])]
    api = _obj(
        "A REST API (source.type api).",
        {
            "base_url": _str("Scheme and host, e.g. https://api.example.com."),
            "endpoint": _str("Path appended to base_url.", default=""),
            "method": _enum("HTTP method.", ["GET", "POST"], "GET"),
            "auth_type": _enum("Authentication.", AUTH_TYPES, "none"),
            "auth_token_env": _env("bearer: the token."),
            "auth_key_name": _str("api_key: header or query parameter name.", default="X-API-Key"),
            "auth_key_header": _str("api_key: same as auth_key_name (the original tool's code)."),
            "auth_key_env": _env("api_key: the key."),
            "auth_key_location": _enum("api_key: where the key goes.", ["header", "query"], "header"),
            "auth_username_env": _env("basic: the user name."),
            "auth_password_env": _env("basic: the password."),
            "auth_token_url": _str("oauth2: token endpoint (client credentials)."),
            "auth_client_id": _str("oauth2: client id written in the file."),
            "auth_client_id_env": _env("oauth2: client id."),
            "auth_client_secret_env": _env("oauth2: client secret."),
            "auth_scope": _str("oauth2: scope."),
            "auth_audience": _str("oauth2: audience."),
            "headers": _free_map("Extra request headers; {env: NAME} for secret values."),
            "params": _free_map("Query parameters; {env: NAME} for secret values."),
            "body": {"type": "object", "description": "JSON body (POST)."},
            "pagination": pagination,
            "data_path": _str("Same as pagination.records_path (the original tool's code)."),
            "timeout": _num("Seconds per request.", exclusiveMinimum=0, default=30),
            "verify": _bool("Verify TLS certificates.", True),
            "rate_limit": _num("Requests per second at most.", exclusiveMinimum=0),
            "retry": _obj(
                "Retries of transient failures (5xx, 429, timeouts).",
                {
                    "max_attempts": _int("Attempts in all.", 1, maximum=100, default=6),
                    "backoff": _num("First wait, seconds; doubles.", exclusiveMinimum=0, default=0.5),
                    "max_backoff": _num("Longest wait, seconds.", exclusiveMinimum=0, default=30),
                },
            ),
            "incremental": _obj(
                "Incremental loads: the stored cursor fills `param`; the new cursor is "
                "max(`field`) over the landed records.",
                {
                    "field": _str("Record field holding the cursor value."),
                    "param": _str("Query parameter that receives the stored cursor."),
                    "until_param": _str(
                        "Query parameter that receives a replayed window's end, if the API has one."
                    ),
                    "cursor_env": _env("Cursor value to start from."),
                    "initial": _str("Cursor value for the first run."),
                },
                ("field", "param"),
            ),
        },
        ("base_url",),
    )
    api["allOf"] = [
        _requires("auth_type", "bearer", ["auth_token_env"]),
        _requires("auth_type", "api_key", ["auth_key_env"]),
        _requires("auth_type", "basic", ["auth_username_env", "auth_password_env"]),
        _requires("auth_type", "oauth2", ["auth_token_url", "auth_client_secret_env"]),
    ]
    return api


def _db() -> dict[str, Any]:
    scalar = {"type": ["integer", "number", "string"]}
    return _obj(
        "A SQL query over ODBC (source.type db).",
        {
            "conn_str_env": _env("ODBC connection string."),
            "base_query": _str("The SQL query."),
            "incremental_key": _str("Column whose maximum becomes the next cursor."),
            "incremental_cursor_env": _env("Last cursor value."),
            "initial_cursor": _str("Cursor value for the first run."),
            "lookback": _num("Seconds re-read before the cursor (late rows).", minimum=0),
            "batch_size": _int("Rows fetched per batch.", 1, default=10000),
            "partition_column": _str("Numeric column to split the query on for parallel reads."),
            "partitions": _int("Parallel range reads over partition_column.", 1, maximum=256, default=1),
            "partition_bounds": {
                "type": "array",
                "description": "[low, high] of partition_column; queried when absent.",
                "items": scalar,
                "minItems": 2,
                "maxItems": 2,
            },
            "max_text_size": _int("Largest text value in bytes.", 1),
        },
        ("conn_str_env", "base_query"),
    )


def _source() -> dict[str, Any]:
    source = _obj(
        "Owned by the domain team: what to extract and how to write it.",
        {
            "type": _enum("Extractor type.", SOURCE_TYPES, "api"),
            "system": _str("Logical system: system=<value> in the path.", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$"),
            "table": _str("Logical table: table=<value> in the path.", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$"),
            "api": _api(),
            "db": _db(),
            "custom_extractor": _obj(
                "A Python class (source.type custom).",
                {
                    "module": _str("Dotted module path."),
                    "class_name": _str("Class in the module."),
                    "params": {"type": "object", "description": "Passed to the extractor."},
                },
                ("module", "class_name"),
            ),
            "files": _obj(
                "Files by path or glob (source.type files).",
                {
                    "paths": {
                        "type": ["string", "array"],
                        "items": {"type": "string"},
                        "minItems": 1,
                        "description": "Paths or globs, relative to the config file, or fsspec URLs.",
                    },
                    "format": _enum("File format.", FILE_FORMATS, "auto"),
                    "delimiter": _str("CSV delimiter."),
                    "header": _bool("CSV files have a header row.", True),
                    "options": _free_map("fsspec storage options; {env: NAME} for secrets."),
                },
                ("paths",),
            ),
            "run": _obj(
                "File sizes, parallelism, formats and upload.",
                {
                    "max_rows_per_file": _int("Rows per file; 0 = unlimited.", 0, default=0),
                    "max_file_size_mb": _num("Target file size in MB.", exclusiveMinimum=0),
                    "parallel_workers": _int("Concurrent chunk workers.", 1, maximum=64, default=1),
                    "write_csv": _bool("Write CSV files.", False),
                    "write_parquet": _bool("Write Parquet files.", True),
                    "storage_enabled": _bool("Upload to the platform's storage backend.", False),
                    "s3_enabled": _bool("Old name of storage_enabled.", False),
                    "local_output_dir": _str("Local staging folder.", default="./output"),
                    "cleanup_on_failure": _bool("Delete written files when the run fails.", True),
                    "batch_id": _str("Batch id (partition_strategy batch_id); generated when absent."),
                    "timeout_seconds": _num("api: seconds per request.", exclusiveMinimum=0),
                    "lineage": _bool("Add _batch_id and _extracted_at columns.", False),
                    "allow_empty": _bool(
                        "Let an empty result replace a partition that holds rows.", False
                    ),
                },
            ),
        },
        ("system", "table"),
    )
    source["allOf"] = [
        _requires("type", "db", ["db"]),
        _requires("type", "custom", ["custom_extractor"]),
        _requires("type", "files", ["files"]),
        {
            "if": {
                "anyOf": [
                    {"not": {"required": ["type"]}},
                    {"properties": {"type": {"const": "api"}}},
                ]
            },
            "then": {"required": ["api"]},
        },
    ]
    return source


_SCHEMA: dict[str, Any] = {
    "$schema": JSON_SCHEMA_DIALECT,
    "$id": "https://foundry-dsl.dev/schema/pipeline.yaml.json",
    "title": "foundry pipeline (medallion-foundry YAML)",
    **_obj(
        "One pipeline: the platform it lands on and the source it extracts.",
        {"platform": _platform(), "source": _source()},
        ("platform", "source"),
    ),
}


def schema() -> dict[str, Any]:
    """The JSON Schema of a YAML pipeline file (a fresh copy, safe to modify)."""
    return copy.deepcopy(_SCHEMA)


def section(*path: str) -> dict[str, Any]:
    """The schema of a nested section, e.g. ``section("source", "api")``."""
    node = _SCHEMA
    for key in path:
        node = node["properties"][key]
    return node


# --- checking a positioned tree --------------------------------------------------------

_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a section of key: value lines",
    "array": "a list",
    "null": "null",
}


def check_document(node: PNode, out: list[Diagnostic], pos: Position | None = None) -> bool:
    """Check one whole YAML document; True when it matches the schema."""
    before = len(out)
    if not isinstance(node, PMap):
        out.append(
            Diagnostic(
                f"a pipeline file must be a section of keys, got {_describe(node)}",
                node.pos or pos,
                "start with platform: and source: at the left margin",
            )
        )
        return False
    _check_map(node, _SCHEMA, "the top level", out, node.pos)
    return len(out) == before


def check(
    node: PNode,
    sch: dict[str, Any],
    where: str,
    key: str,
    out: list[Diagnostic],
    key_pos: Position | None = None,
) -> bool:
    """Report every way ``node`` departs from ``sch`` into ``out``; True when none.

    ``where`` names the enclosing section in messages (``source.api``); ``key``
    is the node's own key; a missing key inside a section is reported at
    ``key_pos``, where the section's name was written.
    """
    before = len(out)
    if "anyOf" in sch:
        _check_any(node, sch, where, key, out)
        return len(out) == before
    types = sch.get("type")
    if types is not None:
        allowed = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(node, t) for t in allowed):
            got = _describe(node)
            out.append(
                Diagnostic(
                    f"'{key}' in {where} must be {' or '.join(_TYPE_WORDS[t] for t in allowed)}, got {got}",
                    node.pos,
                    _type_help(node, allowed),
                )
            )
            return False
    if isinstance(node, PMap):
        _check_map(node, sch, _join(where, key), out, key_pos or node.pos)
    elif isinstance(node, PList):
        _check_list(node, sch, where, key, out)
    else:
        _check_scalar(node, sch, where, key, out)
    return len(out) == before


def _check_any(node: PNode, sch: dict[str, Any], where: str, key: str, out: list[Diagnostic]) -> None:
    attempts: list[list[Diagnostic]] = []
    for alt in sch["anyOf"]:
        trial: list[Diagnostic] = []
        if check(node, alt, where, key, trial):
            return
        attempts.append(trial)
    # the alternative of the node's own JSON type explains the problem best
    for alt, trial in zip(sch["anyOf"], attempts, strict=True):
        alt_types = alt.get("type")
        alt_types = [alt_types] if isinstance(alt_types, str) else alt_types or []
        if any(_is_type(node, t) for t in alt_types):
            out.extend(trial)
            return
    out.extend(attempts[0])


def _check_map(
    node: PMap, sch: dict[str, Any], where: str, out: list[Diagnostic], at: Position | None
) -> None:
    props: dict[str, Any] = sch.get("properties", {})
    extra = sch.get("additionalProperties", True)
    for k, entry in node.entries.items():
        if k in props:
            check(entry.value, props[k], where, k, out, entry.key_pos)
        elif extra is False:
            out.append(
                Diagnostic(
                    f"unknown key '{k}' {_in(where)}",
                    entry.key_pos,
                    did_you_mean(k, props) or f"expected one of: {', '.join(props)}",
                )
            )
        elif isinstance(extra, dict):
            check(entry.value, extra, where, k, out)
    # a misspelled required key is reported once, as unknown with its suggestion
    suggested = {did_you_mean(k, props) for k in node.entries if k not in props}
    for k in sch.get("required", ()):
        if k not in node.entries and f"did you mean '{k}'?" not in suggested:
            out.append(Diagnostic(f"missing required key '{k}' {_in(where)}", at))


def _check_list(node: PList, sch: dict[str, Any], where: str, key: str, out: list[Diagnostic]) -> None:
    lo, hi = sch.get("minItems"), sch.get("maxItems")
    n = len(node.items)
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        want = f"exactly {lo}" if lo == hi else f"at least {lo}" if hi is None else f"at most {hi}"
        out.append(Diagnostic(f"'{key}' in {where} needs {want} items, got {n}", node.pos))
    items = sch.get("items")
    if isinstance(items, dict):
        for item in node.items:
            check(item, items, where, key, out)


def _check_scalar(node: PScalar, sch: dict[str, Any], where: str, key: str, out: list[Diagnostic]) -> None:
    v = node.value
    if "enum" in sch and v not in sch["enum"]:
        choices = [str(c) for c in sch["enum"]]
        out.append(
            Diagnostic(
                f"invalid value '{v}' for '{key}' in {where}",
                node.pos,
                (did_you_mean(str(v), choices) if isinstance(v, str) else None)
                or f"expected one of: {', '.join(choices)}",
            )
        )
        return
    if "pattern" in sch and isinstance(v, str) and not re.search(sch["pattern"], v):
        if sch["pattern"] == ENV_NAME_PATTERN:
            out.append(_env_name_error(node, key, where))
        else:
            out.append(
                Diagnostic(
                    f"'{v}' is not a valid {key}: use ASCII letters, digits, '_' and '-'",
                    node.pos,
                    "it becomes a folder name",
                )
            )
        return
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        bounds = [
            ("minimum", lambda b: v >= b, "at least"),
            ("exclusiveMinimum", lambda b: v > b, "greater than"),
            ("maximum", lambda b: v <= b, "at most"),
        ]
        for name, ok, words in bounds:
            if name in sch and not ok(sch[name]):
                out.append(Diagnostic(f"'{key}' in {where} must be {words} {sch[name]}, got {v}", node.pos))
                return


def _env_name_error(node: PScalar, key: str, where: str) -> Diagnostic:
    """A value that is not a variable name; the message never repeats the value."""
    return Diagnostic(
        f"'{key}' in {where} must be the NAME of an environment variable, "
        "but this looks like a value (a secret or connection string?)",
        node.pos,
        f"write {key}: MY_VARIABLE and set MY_VARIABLE in the environment "
        "(letters, digits and '_')",
    )


def _is_type(node: PNode, t: str) -> bool:
    if t == "object":
        return isinstance(node, PMap)
    if t == "array":
        return isinstance(node, PList)
    if not isinstance(node, PScalar):
        return False
    v = node.value
    if isinstance(v, Env):
        return False
    return {
        "string": lambda: isinstance(v, str),
        "integer": lambda: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda: isinstance(v, bool),
        "null": lambda: v is None,
    }[t]()


def _describe(node: PNode) -> str:
    if isinstance(node, PMap):
        return "a section"
    if isinstance(node, PList):
        return "a list"
    return "null" if node.value is None else describe_value(node.value)


def _type_help(node: PNode, allowed: list[str]) -> str | None:
    if isinstance(node, PScalar) and isinstance(node.value, str) and "boolean" in allowed:
        return "write true or false"
    if isinstance(node, PScalar) and isinstance(node.value, str) and {"integer", "number"} & set(allowed):
        return "write the number without quotes"
    if isinstance(node, PScalar) and node.value is None and "object" in allowed:
        return "indent the section's keys under it, or remove the empty key"
    return None


def _in(where: str) -> str:
    return "at the top level" if where == "the top level" else f"in {where}"


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where and where != "the top level" else key

