"""The IR: frozen pydantic models, fully resolved, with defaults applied.

This is the contract between layers. Front ends (``.bronze`` and the spec's
YAML) produce it; the planner, executor, sources and storage read only it.
Imports and templates are already resolved here: a :class:`Pipeline` carries
its whole :class:`Platform` and :class:`Source` inline.

Every model keeps ``span``, where it was written, so an error found downstream
still points into the user's file; spans are left out of dumps, so IRs compiled
from different files compare equal through :func:`canonical`.

Secrets are never values here: a secret field holds an :class:`EnvRef`, which
is resolved only at run time by :meth:`EnvRef.resolve`.

A size (bytes) or duration (seconds) field says so in its metadata,
``json_schema_extra={"unit": "size"}`` or ``{"unit": "duration"}``: front ends
accept only that kind there (``5MB`` in a size field, ``5m`` in a duration field).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from foundry_dsl.errors import ExtractError, Position
from foundry_dsl.store_names import check_store_name, check_store_prefix

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*$")

Strategy = Literal["date", "hourly", "timestamp", "batch_id", "none"]
Format = Literal["parquet", "csv"]
Compression = Literal["snappy", "gzip", "brotli", "lz4", "zstd", "none"]
FileFormat = Literal["auto", "csv", "json", "ndjson", "parquet"]
DbDriver = Literal["auto", "odbc", "adbc"]
ScalarParam = str | int | float | bool


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    span: Position | None = Field(default=None, exclude=True, repr=False)
    #: where each field's value was written, filled by the front ends; like ``span``,
    #: not part of what a node means (a private attribute: no schema, no dump)
    # no default_factory: pydantic inspects a factory on every model it builds (slow)
    _spans: dict[str, Position] | None = PrivateAttr(default=None)

    def span_of(self, field: str) -> Position | None:
        """Where ``field``'s value was written, else where the node was."""
        return (self._spans or {}).get(field) or self.span

    # Where a node was written is not part of what it means: the same pipeline
    # written in .bronze and in YAML must compare equal.
    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        assert isinstance(other, Node)
        return canonical(self) == canonical(other)

    def __hash__(self) -> int:
        return hash(json.dumps(canonical(self), sort_keys=True))


class EnvRef(Node):
    """``env("NAME")``: a value, usually a secret, read from the environment at run time."""

    name: str

    def resolve(self, *, required: bool = True) -> str | None:
        """The variable's value. Set but empty counts as not set: an empty token or
        password would only surface later as an HTTP 401 or a refused login, far from
        its cause. ``required=False``: None instead of an error."""
        value = os.environ.get(self.name)
        if value is None or not value.strip():
            if not required:
                return None
            state = ("is not set" if value is None else "is set but empty" if not value
                     else "is set to only whitespace")
            raise ExtractError(
                f"environment variable {self.name} {state} "
                f"(referenced as env(\"{self.name}\"){_at(self.span)})"
            )
        return value

    def __str__(self) -> str:
        return f'env("{self.name}")'


def _at(span: Position | None) -> str:
    return f" at {span}" if span else ""


def resolve(value: str | EnvRef | None) -> str | None:
    """A plain value as is; an EnvRef read from the environment."""
    return value.resolve() if isinstance(value, EnvRef) else value


# --- storage -------------------------------------------------------------------------


class LocalStorage(Node):
    kind: Literal["local"] = "local"
    path: str = "./output"


class S3Storage(Node):
    kind: Literal["s3"] = "s3"
    bucket: str
    prefix: str = ""
    endpoint: str | EnvRef | None = None
    access_key: EnvRef | None = None
    secret_key: EnvRef | None = None
    region: str | EnvRef | None = None

    @field_validator("bucket")
    @classmethod
    def _safe_bucket(cls, v: str) -> str:
        return check_store_name("bucket", v)

    @field_validator("prefix")
    @classmethod
    def _safe_prefix(cls, v: str) -> str:
        return check_store_prefix(v)


class AzureStorage(Node):
    """Azure Blob Storage and ADLS Gen2 (``abfs://container/prefix``)."""

    kind: Literal["azure"] = "azure"
    container: str
    prefix: str = ""
    account_name: str | EnvRef | None = None
    account_key: EnvRef | None = None
    sas_token: EnvRef | None = None
    connection_string: EnvRef | None = None

    @field_validator("container")
    @classmethod
    def _safe_container(cls, v: str) -> str:
        return check_store_name("container", v)

    @field_validator("prefix")
    @classmethod
    def _safe_prefix(cls, v: str) -> str:
        return check_store_prefix(v)


class GcsStorage(Node):
    kind: Literal["gcs"] = "gcs"
    bucket: str
    prefix: str = ""
    project: str | EnvRef | None = None
    credentials: EnvRef | None = None  # path of a service-account JSON file
    endpoint: str | EnvRef | None = None  # an emulator; real GCS when absent

    @field_validator("bucket")
    @classmethod
    def _safe_bucket(cls, v: str) -> str:
        return check_store_name("bucket", v)

    @field_validator("prefix")
    @classmethod
    def _safe_prefix(cls, v: str) -> str:
        return check_store_prefix(v)


class CustomStorage(Node):
    """A backend of the user's: a dotted class path or an entry-point name."""

    kind: Literal["custom"] = "custom"
    backend: str
    root: str = ""
    options: dict[str, ScalarParam | EnvRef] = Field(default_factory=dict)


Storage = Annotated[
    LocalStorage | S3Storage | AzureStorage | GcsStorage | CustomStorage,
    Field(discriminator="kind"),
]


class Platform(Node):
    """Owned by the data platform team: where and how Bronze data is laid out."""

    name: str
    storage: Storage = Field(default_factory=LocalStorage)
    partition: Strategy = "date"
    use_dt_partition: bool = True
    formats: tuple[Format, ...] = ("parquet",)  # allowed, and the default for pipelines
    compression: Compression = "snappy"

    @field_validator("formats")
    @classmethod
    def _formats_nonempty_unique(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("at least one format is required")
        if len(set(v)) != len(v):
            raise ValueError("a format is listed twice")
        return v


# --- sources -------------------------------------------------------------------------


class NoAuth(Node):
    kind: Literal["none"] = "none"


class BearerAuth(Node):
    kind: Literal["bearer"] = "bearer"
    token: EnvRef


class ApiKeyAuth(Node):
    kind: Literal["api_key"] = "api_key"
    name: str = "X-API-Key"
    value: EnvRef
    location: Literal["header", "query"] = "header"


class BasicAuth(Node):
    kind: Literal["basic"] = "basic"
    username: str | EnvRef
    password: EnvRef


class OAuth2Auth(Node):
    """OAuth2 client credentials; the token is cached and refreshed on expiry or a 401."""

    kind: Literal["oauth2"] = "oauth2"
    token_url: str
    client_id: str | EnvRef
    client_secret: EnvRef
    scope: str | None = None
    audience: str | None = None


Auth = Annotated[
    NoAuth | BearerAuth | ApiKeyAuth | BasicAuth | OAuth2Auth, Field(discriminator="kind")
]


class NoPagination(Node):
    kind: Literal["none"] = "none"


#: the default ``max_pages``: far above any real API's page count (10M records in pages
#: of 100), yet it ends a server that sends new pages for ever before the disk fills
MAX_PAGES = 100_000


class _Paged(Node):
    # reaching it while the API has more pages is an error, never a silent stop
    max_pages: int = Field(default=MAX_PAGES, ge=1)


class OffsetPagination(_Paged):
    """Stops on an empty page, a page shorter than ``limit``, or ``total`` reached."""

    kind: Literal["offset"] = "offset"
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(default=100, ge=1)
    start: int = Field(default=0, ge=0)
    total_path: str | None = None


class PagePagination(_Paged):
    """Stops on an empty page, a short page, or the last page by ``total_pages_path``."""

    kind: Literal["page"] = "page"
    page_param: str = "page"
    size_param: str | None = "page_size"
    page_size: int | None = Field(default=100, ge=1)
    start_page: int = Field(default=1, ge=0)
    total_pages_path: str | None = None


class CursorPagination(_Paged):
    """The next cursor comes from the body (``cursor_path``), a response header
    (``cursor_header``) or the last record's field (``cursor_field``, Stripe's
    ``starting_after``). Stops when it is absent or empty, or ``has_more_path`` is false."""

    kind: Literal["cursor"] = "cursor"
    cursor_param: str = "cursor"
    cursor_path: str | None = None
    cursor_header: str | None = None
    cursor_field: str | None = None
    has_more_path: str | None = None

    @model_validator(mode="after")
    def _one_cursor_source(self) -> CursorPagination:
        given = [n for n in ("cursor_path", "cursor_header", "cursor_field") if getattr(self, n)]
        if len(given) > 1:
            raise ValueError(f"give only one of cursor_path, cursor_header, cursor_field (got {', '.join(given)})")
        if not given:
            raise ValueError("cursor pagination needs cursor_path, cursor_header or cursor_field")
        return self


class LinkPagination(_Paged):
    """The HTTP ``Link: <url>; rel="next"`` header, as GitHub sends it."""

    kind: Literal["link"] = "link"
    rel: str = "next"


class NextUrlPagination(_Paged):
    kind: Literal["next_url"] = "next_url"
    next_url_path: str


Pagination = Annotated[
    NoPagination
    | OffsetPagination
    | PagePagination
    | CursorPagination
    | LinkPagination
    | NextUrlPagination,
    Field(discriminator="kind"),
]


class RetryPolicy(Node):
    max_attempts: int = Field(default=6, ge=1, le=100)
    # first wait, seconds; doubles, with jitter
    backoff: float = Field(default=0.5, gt=0, json_schema_extra={"unit": "duration"})
    max_backoff: float = Field(default=30.0, gt=0, le=3_600, json_schema_extra={"unit": "duration"})


class ApiIncremental(Node):
    """The stored cursor fills ``param``; the new cursor is max(``field``) over landed records."""

    field: str
    param: str
    #: the request parameter that takes the window's end when a run replays a
    #: committed window; without it the records past the end are dropped here
    until_param: str | None = None
    cursor_env: str | None = None
    initial: str | None = None


class ApiSource(Node):
    kind: Literal["api"] = "api"
    base_url: str | EnvRef
    endpoint: str = ""
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, str | EnvRef] = Field(default_factory=dict)
    params: dict[str, ScalarParam | EnvRef] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    timeout: float = Field(default=30.0, gt=0, le=86_400, json_schema_extra={"unit": "duration"})
    verify: bool = True
    auth: Auth = Field(default_factory=NoAuth)
    paginate: Pagination = Field(default_factory=NoPagination)
    records: str | None = None  # dotted path or JSONPath; None or "$" = top-level list
    rate_limit: float | None = Field(default=None, gt=0)  # requests per second
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    incremental: ApiIncremental | None = None
    parse_dates: bool = True  # ISO 8601 text → date and timestamp columns (write/temporal.py)


class DbSource(Node):
    """A SQL query over ODBC, or over ADBC for PostgreSQL; the connection (an ODBC
    connection string or a ``postgresql://`` URL) always comes from the environment."""

    kind: Literal["db"] = "db"
    connection: EnvRef
    query: str
    incremental_key: str | None = None
    cursor_env: str | None = None
    initial_cursor: str | None = None
    # seconds re-read before the cursor
    lookback: float | None = Field(default=None, ge=0, json_schema_extra={"unit": "duration"})
    batch_size: int = Field(default=10_000, ge=1, le=10_000_000)
    partition_column: str | None = None
    partitions: int = Field(default=1, ge=1, le=256)
    partition_bounds: tuple[int | float | str, int | float | str] | None = None
    max_text_size: int | None = Field(default=None, ge=1, json_schema_extra={"unit": "size"})
    # auto: ADBC for a postgresql:// URL, ODBC for a connection string (docs/db.md)
    driver: DbDriver = "auto"

    @model_validator(mode="after")
    def _partitions_need_column(self) -> DbSource:
        if self.partitions > 1 and not self.partition_column:
            raise ValueError("partitions > 1 needs partition_column")
        return self


class FilesSource(Node):
    """Files by path or glob, local (relative to the pipeline file) or an fsspec URL."""

    kind: Literal["files"] = "files"
    paths: tuple[str, ...] = Field(min_length=1)
    format: FileFormat = "auto"
    delimiter: str | None = None
    header: bool = True
    options: dict[str, ScalarParam | EnvRef] = Field(default_factory=dict)  # fsspec storage options


class CustomSource(Node):
    """A Python class: ``fetch_records(cfg, run_date)`` (the original tool's interface)
    or ``extract(ctx)`` yielding batches (foundry's streaming interface)."""

    kind: Literal["custom"] = "custom"
    module: str
    class_name: str
    params: dict[str, Any] = Field(default_factory=dict)


class SequenceSource(Node):
    """Whole numbers ``start``, ``start + 1``, ... as column ``n``: lands without any
    source, to try a platform's storage (docs/extending.md builds it step by step)."""

    kind: Literal["sequence"] = "sequence"
    start: int = 0
    count: int = Field(ge=0)
    batch_rows: int = Field(default=100_000, ge=1, le=10_000_000)


Source = Annotated[
    ApiSource | DbSource | FilesSource | CustomSource | SequenceSource,
    Field(discriminator="kind"),
]


# --- run and pipeline ----------------------------------------------------------------


class RunOptions(Node):
    max_rows_per_file: int = Field(default=0, ge=0, le=10**12)  # 0 = unlimited
    # bytes (at most 1TB); 0 = unlimited
    max_file_size: int = Field(default=0, ge=0, le=2**40, json_schema_extra={"unit": "size"})
    workers: int = Field(default=1, ge=1, le=64)
    formats: tuple[Format, ...] = ("parquet",)
    storage_enabled: bool = True
    local_output_dir: str = "./output"
    cleanup_on_failure: bool = True
    #: after a successful upload to an object store, keep the files under
    #: local_output_dir/<partition>/ too (the YAML front end: unless cleanup_local_files)
    keep_local_files: bool = False
    batch_id: str | None = None
    lineage: bool = False  # add _batch_id and _extracted_at columns
    #: let an empty result replace a partition that holds rows (off: such a run fails)
    allow_empty: bool = False
    #: at most this many of the pipeline's extract parts read the source at once, on
    #: every executor (on a cluster: a cluster-wide semaphore); None: all parts at once
    source_connections: int | None = Field(default=None, ge=1, le=1024)


class Pipeline(Node):
    system: str
    table: str
    platform: Platform
    source: Source
    run: RunOptions = Field(default_factory=RunOptions)
    source_file: str = ""  # the file it was written in, as given on the command line

    @field_validator("system", "table")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not NAME_RE.match(v):
            raise ValueError(
                f"'{v}' is not a valid name: use ASCII letters, digits, '_' and '-' "
                "(it becomes a folder name)"
            )
        return v

    @property
    def name(self) -> str:
        return f"{self.system}.{self.table}"

    @property
    def source_hash(self) -> str:
        """sha256 of the pipeline's meaning (positions and file name excluded)."""
        data = canonical(self)
        data.pop("source_file", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class Project(Node):
    """Everything compiled from a set of files."""

    pipelines: tuple[Pipeline, ...] = ()
    platforms: tuple[Platform, ...] = ()
    files: tuple[str, ...] = ()

    def pipeline(self, name: str) -> Pipeline:
        for p in self.pipelines:
            if p.name == name:
                return p
        raise KeyError(name)


def canonical(node: BaseModel) -> dict[str, Any]:
    """A JSON-able dump without positions, for comparison and hashing."""
    return node.model_dump(mode="json")
