"""The JSON Schema document of the YAML front end: the shape of a config file.

Front-end layer. :func:`schema` is the JSON Schema (draft 2020-12) of the
original tool's YAML (``platform:`` / ``source:``), with foundry's documented
additions; ``foundry schema`` prints it for editors' YAML language servers.
The same document drives :mod:`.checks`, which reports departures from it at
the line and column they were written, before the config is mapped to the IR
(whose field names differ from the spec's).

Rules that depend on another key's value (``source.type: db`` needs
``source.db``) are written as ``allOf`` / ``if`` / ``then`` for editors and
checked by the mapping modules (:mod:`.sources`, :mod:`.api`, ...), which can
word them better.
"""

from __future__ import annotations

import copy
from typing import Any

from foundry_dsl.frontends.medallion.schema_blocks import (
    boolean,
    enum,
    env_name,
    free_map,
    integer,
    number,
    obj,
    requires,
    string,
)

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

STRATEGIES = ["date", "hourly", "timestamp", "batch_id", "none"]
COMPRESSIONS = ["snappy", "gzip", "brotli", "lz4", "zstd", "none"]
BACKENDS = ["s3", "azure", "gcs", "local"]
#: ``storage_backend`` may also name a backend class: ``pkg.mod:Class`` or ``pkg.mod.Class``
CLASS_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*[.:][A-Za-z_][A-Za-z0-9_]*$"
CLASS_PATH_WORDS = "or the class path of a StorageBackend ('package.module:Class')"
SOURCE_TYPES = ["api", "db", "custom", "files"]
AUTH_TYPES = ["none", "bearer", "api_key", "basic", "oauth2"]
PAGINATION_TYPES = ["none", "offset", "page", "cursor", "link", "next_url"]
FILE_FORMATS = ["auto", "csv", "json", "ndjson", "parquet"]


def _platform() -> dict[str, Any]:
    bronze = obj(
        "Where and how Bronze data is laid out.",
        {
            "storage_backend": {
                "description": "Where Bronze files are uploaded: a built-in backend, or the "
                "class path of your own StorageBackend ('package.module:Class').",
                "default": "s3",
                "anyOf": [
                    {**enum("A built-in backend.", BACKENDS, "s3"), "x-also": CLASS_PATH_WORDS},
                    string("The class path of a StorageBackend subclass.", pattern=CLASS_PATH),
                ],
            },
            "s3_bucket": string("S3 bucket (storage_backend s3)."),
            "s3_prefix": string("Key prefix for all Bronze data in the bucket.", default=""),
            "s3_region": string("AWS region of the bucket."),
            "azure_container": string("Azure Blob / ADLS Gen2 container (storage_backend azure)."),
            "azure_prefix": string("Path prefix inside the container.", default=""),
            "gcs_bucket": string("Google Cloud Storage bucket (storage_backend gcs)."),
            "gcs_prefix": string("Path prefix inside the bucket.", default=""),
            "local_path": string("Root folder (storage_backend local).", default="./output"),
            "custom_root": string(
                "Passed as root= to a storage_backend given by class path.", default=""
            ),
            "partitioning": obj(
                "Partition folders under system=/table=.",
                {
                    "use_dt_partition": boolean("Include the dt=YYYY-MM-DD folder.", True),
                    "partition_strategy": enum(
                        "date: dt=; hourly: dt=/hour=; timestamp: dt=/batch=; "
                        "batch_id: dt=/batch_id=; none: no time partition.",
                        STRATEGIES,
                        "date",
                    ),
                },
            ),
            "output_defaults": obj(
                "Formats the platform allows, and Parquet settings.",
                {
                    "allow_csv": boolean("Pipelines may write CSV.", True),
                    "allow_parquet": boolean("Pipelines may write Parquet.", True),
                    "parquet_compression": enum("Parquet codec.", COMPRESSIONS, "snappy"),
                },
            ),
        },
    )
    bronze["allOf"] = [
        requires("storage_backend", "azure", ["azure_container"]),
        requires("storage_backend", "gcs", ["gcs_bucket"]),
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
    return obj(
        "Owned by the data platform team: storage, partitioning, formats.",
        {
            "bronze": bronze,
            "s3_connection": obj(
                "S3 credentials and endpoint, as environment variable names.",
                {
                    "endpoint_url_env": env_name("Endpoint URL (MinIO, other S3-compatible stores)."),
                    "endpoint_url": string("Endpoint URL written in the file (not a secret)."),
                    "access_key_env": env_name("Access key id."),
                    "secret_key_env": env_name("Secret access key."),
                    "region_env": env_name("AWS region."),
                },
            ),
            "azure_connection": obj(
                "Azure credentials, as environment variable names.",
                {
                    "connection_string_env": env_name("Storage account connection string."),
                    "account_name_env": env_name("Storage account name."),
                    "account_name": string("Storage account name written in the file."),
                    "account_key_env": env_name("Storage account key."),
                    "sas_token_env": env_name("SAS token."),
                },
            ),
            "custom_connection": free_map(
                "Passed as options= to a storage_backend given by class path; "
                "{env: NAME} for secret values."
            ),
            "gcs_connection": obj(
                "Google Cloud Storage settings.",
                {
                    "project": string("GCP project id."),
                    "project_env": env_name("GCP project id."),
                    "credentials_env": env_name("Path of a service-account JSON file."),
                    "endpoint_url": string("Endpoint of an emulator; real GCS when absent."),
                    "endpoint_url_env": env_name("Endpoint of an emulator."),
                },
            ),
        },
        ("bronze",),
    )


def _api() -> dict[str, Any]:
    pagination = obj(
        "How to fetch every page.",
        {
            "type": enum("Pagination style.", PAGINATION_TYPES, "none"),
            "records_path": {
                "type": ["string", "null"],
                "description": "Dotted path (or JSONPath) of the records list in each response; "
                "null or absent: the body is the list.",
            },
            "max_pages": integer("At most this many pages (default 100000); reaching it is an error.", 1),
            "offset_param": string("offset: query parameter for the offset.", default="offset"),
            "limit_param": string("offset: query parameter for the page size.", default="limit"),
            "page_size": integer("offset/page: records per page.", 1, default=100),
            "total_path": string("offset: path of the total record count in the body."),
            "page_param": string("page: query parameter for the page number.", default="page"),
            "page_size_param": string("page: query parameter for the page size.", default="page_size"),
            "start_page": integer("page: number of the first page.", 0, default=1),
            "total_pages_path": string("page: path of the page count in the body."),
            "cursor_param": string("cursor: query parameter for the cursor.", default="cursor"),
            "cursor_path": string("cursor: path of the next cursor in the body.", default="next_cursor"),
            "cursor_header": string("cursor: response header holding the next cursor."),
            "cursor_field": string("cursor: the last record's field used as the next cursor."),
            "has_more_path": string("cursor: path of a boolean 'more pages' flag."),
            "rel": string("link: the Link header relation to follow.", default="next"),
            "next_url_path": string("next_url: path of the next page's URL in the body."),
        },
    )
    pagination["allOf"] = [requires("type", "next_url", ["next_url_path"])]
    api = obj(
        "A REST API (source.type api).",
        {
            "base_url": string("Scheme and host, e.g. https://api.example.com."),
            "endpoint": string("Path appended to base_url.", default=""),
            "method": enum("HTTP method.", ["GET", "POST"], "GET"),
            "auth_type": enum("Authentication.", AUTH_TYPES, "none"),
            "auth_token_env": env_name("bearer: the token."),
            "auth_key_name": string("api_key: header or query parameter name.", default="X-API-Key"),
            "auth_key_header": string("api_key: same as auth_key_name (the original tool's code)."),
            "auth_key_env": env_name("api_key: the key."),
            "auth_key_location": enum("api_key: where the key goes.", ["header", "query"], "header"),
            "auth_username_env": env_name("basic: the user name."),
            "auth_password_env": env_name("basic: the password."),
            "auth_token_url": string("oauth2: token endpoint (client credentials)."),
            "auth_client_id": string("oauth2: client id written in the file."),
            "auth_client_id_env": env_name("oauth2: client id."),
            "auth_client_secret_env": env_name("oauth2: client secret."),
            "auth_scope": string("oauth2: scope."),
            "auth_audience": string("oauth2: audience."),
            "headers": free_map("Extra request headers; {env: NAME} for secret values."),
            "params": free_map("Query parameters; {env: NAME} for secret values."),
            "body": {"type": "object", "description": "JSON body (POST)."},
            "pagination": pagination,
            "data_path": string("Same as pagination.records_path (the original tool's code)."),
            "timeout": number("Seconds per request.", exclusiveMinimum=0, default=30),
            "verify": boolean("Verify TLS certificates.", True),
            "rate_limit": number("Requests per second at most.", exclusiveMinimum=0),
            "parse_dates": boolean("ISO 8601 dates and timestamps land as date and "
                                   "timestamp columns.", True),
            "retry": obj(
                "Retries of transient failures (5xx, 429, timeouts).",
                {
                    "max_attempts": integer("Attempts in all.", 1, maximum=100, default=6),
                    "backoff": number("First wait, seconds; doubles.", exclusiveMinimum=0, default=0.5),
                    "max_backoff": number("Longest wait, seconds.", exclusiveMinimum=0, default=30),
                },
            ),
            "incremental": obj(
                "Incremental loads: the stored cursor fills `param`; the new cursor is "
                "max(`field`) over the landed records.",
                {
                    "field": string("Record field holding the cursor value."),
                    "param": string("Query parameter that receives the stored cursor."),
                    "until_param": string(
                        "Query parameter that receives a replayed window's end, if the API has one."
                    ),
                    "cursor_env": env_name("Cursor value to start from."),
                    "initial": string("Cursor value for the first run."),
                },
                ("field", "param"),
            ),
        },
        ("base_url",),
    )
    api["allOf"] = [
        requires("auth_type", "bearer", ["auth_token_env"]),
        requires("auth_type", "api_key", ["auth_key_env"]),
        requires("auth_type", "basic", ["auth_username_env", "auth_password_env"]),
        requires("auth_type", "oauth2", ["auth_token_url", "auth_client_secret_env"]),
    ]
    return api


def _db() -> dict[str, Any]:
    scalar = {"type": ["integer", "number", "string"]}
    return obj(
        "A SQL query over ODBC (source.type db).",
        {
            "conn_str_env": env_name("ODBC connection string, or a postgresql:// URL."),
            "base_query": string("The SQL query."),
            "incremental_key": string("Column whose maximum becomes the next cursor."),
            "incremental_cursor_env": env_name("Last cursor value."),
            "initial_cursor": string("Cursor value for the first run."),
            "lookback": number("Seconds re-read before the cursor (late rows).", minimum=0),
            "batch_size": integer("Rows fetched per batch.", 1, default=10000),
            "partition_column": string("Numeric column to split the query on for parallel reads."),
            "partitions": integer("Parallel range reads over partition_column.", 1, maximum=256, default=1),
            "partition_bounds": {
                "type": "array",
                "description": "[low, high] of partition_column; queried when absent.",
                "items": scalar,
                "minItems": 2,
                "maxItems": 2,
            },
            "max_text_size": integer("Largest text value in bytes.", 1),
            "driver": enum("auto: ADBC for a postgresql:// URL, ODBC otherwise.", ["auto", "odbc", "adbc"], "auto"),
        },
        ("conn_str_env", "base_query"),
    )


def _source() -> dict[str, Any]:
    source = obj(
        "Owned by the domain team: what to extract and how to write it.",
        {
            "type": enum("Extractor type.", SOURCE_TYPES, "api"),
            "system": string("Logical system: system=<value> in the path.", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$"),
            "table": string("Logical table: table=<value> in the path.", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$"),
            "api": _api(),
            "db": _db(),
            "custom_extractor": obj(
                "A Python class (source.type custom).",
                {
                    "module": string("Dotted module path."),
                    "class_name": string("Class in the module."),
                    "params": {"type": "object", "description": "Passed to the extractor."},
                },
                ("module", "class_name"),
            ),
            "files": obj(
                "Files by path or glob (source.type files).",
                {
                    "paths": {
                        "type": ["string", "array"],
                        "items": {"type": "string"},
                        "minItems": 1,
                        "description": "Paths or globs, relative to the config file, or fsspec URLs.",
                    },
                    "format": enum("File format.", FILE_FORMATS, "auto"),
                    "delimiter": string("CSV delimiter."),
                    "header": boolean("CSV files have a header row.", True),
                    "options": free_map("fsspec storage options; {env: NAME} for secrets."),
                },
                ("paths",),
            ),
            "run": obj(
                "File sizes, parallelism, formats and upload.",
                {
                    "max_rows_per_file": integer("Rows per file; 0 = unlimited.", 0, default=0),
                    "max_file_size_mb": number("Target file size in MB.", exclusiveMinimum=0),
                    "parallel_workers": integer("Concurrent chunk workers.", 1, maximum=64, default=1),
                    "write_csv": boolean("Write CSV files.", False),
                    "write_parquet": boolean("Write Parquet files.", True),
                    "storage_enabled": boolean("Upload to the platform's storage backend.", False),
                    "s3_enabled": boolean("Old name of storage_enabled.", False),
                    "local_output_dir": string("Local staging folder.", default="./output"),
                    "cleanup_on_failure": boolean("Delete written files when the run fails.", True),
                    "cleanup_local_files": boolean(
                        "With storage_enabled: delete the files under local_output_dir after "
                        "a successful upload (by default they are kept, as the original tool did).",
                        False,
                    ),
                    "batch_id": string("Batch id (partition_strategy batch_id); generated when absent."),
                    "timeout_seconds": number("api: seconds per request.", exclusiveMinimum=0),
                    "lineage": boolean("Add _batch_id and _extracted_at columns.", False),
                    "allow_empty": boolean(
                        "Let an empty result replace a partition that holds rows.", False
                    ),
                },
            ),
        },
        ("system", "table"),
    )
    source["allOf"] = [
        requires("type", "db", ["db"]),
        requires("type", "custom", ["custom_extractor"]),
        requires("type", "files", ["files"]),
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


# shared with .checks, which only reads it; everyone else gets a copy from schema()
SCHEMA: dict[str, Any] = {
    "$schema": JSON_SCHEMA_DIALECT,
    "$id": "https://foundry-dsl.dev/schema/pipeline.yaml.json",
    "title": "foundry pipeline (medallion-foundry YAML)",
    **obj(
        "One pipeline: the platform it lands on and the source it extracts.",
        {"platform": _platform(), "source": _source()},
        ("platform", "source"),
    ),
}


def schema() -> dict[str, Any]:
    """The JSON Schema of a YAML pipeline file (a fresh copy, safe to modify)."""
    return copy.deepcopy(SCHEMA)


def section(*path: str) -> dict[str, Any]:
    """The schema of a nested section, e.g. ``section("source", "api")``."""
    node = SCHEMA
    for key in path:
        node = node["properties"][key]
    return node
