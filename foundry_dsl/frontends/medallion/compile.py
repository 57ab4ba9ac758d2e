"""The YAML front end: the original tool's config files → positioned values → IR.

Front-end layer. A config written for medallion-foundry (``platform:`` and
``source:``) is accepted unchanged and compiles to the same :mod:`ir` a
``.bronze`` author gets. Three steps, each reporting into the shared
:class:`Lowering` with line and column:

1. parse: PyYAML's composer keeps every node's marks; syntax errors and
   duplicate keys become diagnostics; the nodes become :mod:`positioned` values;
2. check: ``yaml_schema.check_document`` reports unknown keys, wrong types and
   bad enum members in the spec's vocabulary; the rules that tie one key to
   another (``auth_type: bearer`` needs ``auth_token_env``) are checked here;
3. translate: the spec's shape becomes a :class:`PMap` shaped like
   ``ir.Pipeline`` (each value keeps its position) and ``lower.build_pipeline``
   makes the IR. A document with errors in steps 1 and 2 is not translated, so every
   message a user sees names the keys they wrote.

Several YAML documents (``---``) in one file are several pipelines. The
platform is named after the file's stem (``configs/github.yaml`` → ``github``).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from foundry_dsl import ir
from foundry_dsl.errors import Diagnostic, Position
from foundry_dsl.frontends.lower import PASSWORD_IN_TEXT_RE, SECRET_KEY_RE, Lowering, build_pipeline
from foundry_dsl.frontends.medallion import schema as yaml_schema
from foundry_dsl.frontends.positioned import Env, PEntry, PList, PMap, PNode, PScalar, Quantity

MB = 1024 * 1024

AUTH_KEYS: dict[str, tuple[str, ...]] = {
    "none": (),
    "bearer": ("auth_token_env",),
    "api_key": ("auth_key_name", "auth_key_header", "auth_key_env", "auth_key_location"),
    "basic": ("auth_username_env", "auth_password_env"),
    "oauth2": (
        "auth_token_url",
        "auth_client_id",
        "auth_client_id_env",
        "auth_client_secret_env",
        "auth_scope",
        "auth_audience",
    ),
}
ALL_AUTH_KEYS = {k for keys in AUTH_KEYS.values() for k in keys}

PAGINATION_KEYS: dict[str, tuple[str, ...]] = {
    "none": (),
    "offset": ("offset_param", "limit_param", "page_size", "total_path"),
    "page": ("page_param", "page_size_param", "page_size", "start_page", "total_pages_path"),
    "cursor": ("cursor_param", "cursor_path", "cursor_header", "cursor_field", "has_more_path"),
    "link": ("rel",),
    "next_url": ("next_url_path",),
}
PAGINATION_COMMON = ("type", "records_path", "max_pages")

SOURCE_SECTIONS = {"api": "api", "db": "db", "custom": "custom_extractor", "files": "files"}

# The original tool's default cursor location (extractors/api_extractor.py).
DEFAULT_CURSOR_PATH = "next_cursor"

# PyYAML's problem text → what to do about it (matched by prefix).
SYNTAX_HELP: tuple[tuple[str, str], ...] = (
    ("found character '\\t'", "YAML indents with spaces, not tabs: replace the tab with spaces"),
    ("expected <block end>", "this line is indented differently from the lines above it"),
    ("mapping values are not allowed", "a value cannot hold ': ' unquoted: quote the value, or fix the indentation"),
    ("found unexpected end of stream", "a quoted value is not closed: add the closing quote"),
    ("found undefined alias", "define the anchor (&name) before using *name"),
    ("could not find expected ':'", "each line in a section is key: value; check the previous line too"),
)


def compile_yaml(path: str, text: str, low: Lowering) -> list[ir.Pipeline]:
    """The pipelines in one YAML file; every problem goes into ``low``."""
    documents = parse(path, text, low)
    if documents is None:
        return []
    if not documents:
        low.error(
            "the file has no pipeline",
            Position(path, 1, 1),
            "a pipeline file has a platform: section and a source: section",
        )
        return []
    pipelines = []
    for doc in documents:
        if doc is None:
            continue
        p = Translator(path, low).pipeline(doc)
        if p is not None:
            pipelines.append(p)
    return pipelines


# --- 1. parse ------------------------------------------------------------------------


def parse(path: str, text: str, low: Lowering) -> list[PNode | None] | None:
    """Every document as positioned values (None for a document whose duplicate
    keys were reported), or None after a syntax error (reported)."""
    loader = yaml.SafeLoader(text)
    try:
        nodes: list[yaml.Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
        converter = _Converter(path, loader, low)
        documents: list[PNode | None] = []
        for n in nodes:
            before = len(low.diagnostics)
            converted = converter.convert(n)
            documents.append(converted if len(low.diagnostics) == before else None)
        return documents
    except yaml.MarkedYAMLError as exc:
        low.diagnostics.append(_syntax_error(path, text, exc))
        return None
    finally:
        loader.dispose()


def _syntax_error(path: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "invalid YAML").strip()
    pos = Position(path, mark.line + 1, mark.column + 1) if mark else None
    if mark is not None and ("but found '<scalar>'" in problem or "end of stream" in problem):
        # an unclosed quote runs on into the next lines; PyYAML notices only later
        found = _unclosed_quote(text, mark.line)
        if found is not None:
            return Diagnostic(
                "invalid YAML: a quoted value is not closed",
                Position(path, *found),
                "add the closing quote at the end of the value",
            )
    help_text = next((h for prefix, h in SYNTAX_HELP if problem.startswith(prefix)), None)
    if exc.context and exc.context_mark and exc.context_mark.line != (mark.line if mark else -1):
        note = f"{exc.context} that starts at line {exc.context_mark.line + 1}"
        help_text = f"{help_text} ({note})" if help_text else note
    return Diagnostic(f"invalid YAML: {problem}", pos, help_text)


def _unclosed_quote(text: str, upto: int) -> tuple[int, int] | None:
    """Line and column (1-based) of the opening quote on the last line up to
    ``upto`` (0-based) that has an odd number of double quotes."""
    lines = text.splitlines()
    for i in range(min(upto, len(lines) - 1), -1, -1):
        code = lines[i].split(" #", 1)[0].replace('\\"', "")
        if code.count('"') % 2 == 1:
            return i + 1, code.rfind('"') + 1
    return None


class _Converter:
    """PyYAML nodes → PMap/PList/PScalar with 1-based positions."""

    def __init__(self, path: str, loader: yaml.SafeLoader, low: Lowering) -> None:
        self.path = path
        self.loader = loader
        self.low = low
        self.active: set[int] = set()  # nodes being converted: catches recursive aliases

    def pos(self, node: yaml.Node) -> Position:
        s, e = node.start_mark, node.end_mark
        return Position(self.path, s.line + 1, s.column + 1, e.line + 1, e.column + 1)

    def convert(self, node: yaml.Node) -> PNode:
        if id(node) in self.active:
            self.low.error("an alias refers to itself", self.pos(node))
            return PScalar(None, self.pos(node))
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self.mapping(node)
            if isinstance(node, yaml.SequenceNode):
                return PList([self.convert(i) for i in node.value], self.pos(node))
            return PScalar(self.loader.construct_object(node, deep=True), self.pos(node))
        finally:
            self.active.discard(id(node))

    def mapping(self, node: yaml.MappingNode) -> PMap:
        out = PMap(pos=self.pos(node))
        first: dict[Any, Position] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.loader.construct_object(key_node, deep=True)
            kpos = self.pos(key_node)
            if key in first:
                self.low.error(
                    f"duplicate key '{key}'",
                    kpos,
                    f"'{key}' is already set at line {first[key].line}; keep one of them",
                )
            else:
                first[key] = kpos
        # `<<: *anchor` merges: the mapping's own keys win over merged ones
        self.loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            kpos = self.pos(key_node)
            if not isinstance(key, str):
                self.low.error(f"keys must be names, got {key!r}", kpos, "quote the key")
                continue
            out.entries[key] = PEntry(kpos, self.convert(value_node))
        return out


# --- 2 and 3. check and translate -------------------------------------------------------


def _get(node: PNode | None, *keys: str) -> PNode | None:
    for k in keys:
        if not isinstance(node, PMap):
            return None
        node = node.get(k)
    return node


def _value(node: PNode | None, default: Any = None) -> Any:
    return node.value if isinstance(node, PScalar) else default


def _key_pos(node: PMap, key: str) -> Position | None:
    entry = node.entries.get(key)
    return entry.key_pos if entry else node.pos


class Translator:
    """One YAML document → an ``ir.Pipeline`` (or diagnostics)."""

    def __init__(self, path: str, low: Lowering) -> None:
        self.path = path
        self.low = low
        self.errors: list[Diagnostic] = []

    def error(self, message: str, pos: Position | None, help: str | None = None) -> None:
        self.errors.append(Diagnostic(message, pos, help))

    def pipeline(self, doc: PNode) -> ir.Pipeline | None:
        if not yaml_schema.check_document(doc, self.errors, Position(self.path, 1, 1)):
            self.low.diagnostics.extend(self.errors)
            return None
        assert isinstance(doc, PMap)
        platform = doc.get("platform")
        source = doc.get("source")
        assert isinstance(platform, PMap) and isinstance(source, PMap)
        out = PMap(pos=doc.pos, title="pipeline")
        out.set("system", source.entries["system"].value, source.entries["system"].key_pos)
        out.set("table", source.entries["table"].value, source.entries["table"].key_pos)
        ir_platform = self.platform(platform, _key_pos(doc, "platform"))
        ir_source = self.source(source)
        ir_run = self.run(source, platform, ir_source)
        if self.errors:
            self.low.diagnostics.extend(self.errors)
            return None
        out.set("platform", ir_platform, _key_pos(doc, "platform"))
        out.set("source", ir_source, _key_pos(doc, "source"))
        out.set("run", ir_run, _key_pos(source, "run"))
        out.set("source_file", PScalar(self.path, doc.pos))
        return build_pipeline(self.low, out)

    # --- platform ------------------------------------------------------------------

    def platform(self, node: PMap, at: Position | None) -> PMap:
        bronze = node.get("bronze")
        assert isinstance(bronze, PMap)
        out = PMap(pos=node.pos, title=f"platform {Path(self.path).stem}")
        out.set("name", PScalar(Path(self.path).stem, at))
        out.set("storage", self.storage(node, bronze), _key_pos(bronze, "storage_backend"))
        partitioning = bronze.get("partitioning")
        _copy(partitioning, "partition_strategy", out, "partition")
        _copy(partitioning, "use_dt_partition", out, "use_dt_partition")
        defaults = bronze.get("output_defaults")
        _copy(defaults, "parquet_compression", out, "compression")
        allowed = [f for f in ("parquet", "csv") if _value(_get(defaults, f"allow_{f}"), True)]
        if not allowed:
            self.error(
                "the platform allows no format: allow_parquet and allow_csv are both false",
                _key_pos(bronze, "output_defaults"),
                "set allow_parquet: true (or allow_csv: true) in platform.bronze.output_defaults",
            )
        pos = defaults.pos if isinstance(defaults, PMap) else bronze.pos
        out.set("formats", PList([PScalar(f, pos) for f in allowed], pos))
        return out

    def storage(self, platform: PMap, bronze: PMap) -> PMap:
        backend_node = bronze.get("storage_backend")
        backend = _value(backend_node, "s3")
        out = PMap(pos=bronze.pos, title=f"storage {backend}")
        out.set("kind", PScalar(backend, backend_node.pos if backend_node else bronze.pos))
        # Settings of the other backends are allowed and ignored, so a config
        # can switch storage_backend without deleting them.
        if backend == "s3":
            self.require(bronze, "s3_bucket", "platform.bronze", "storage_backend s3")
            _copy(bronze, "s3_bucket", out, "bucket")
            _copy(bronze, "s3_prefix", out, "prefix")
            conn = platform.get("s3_connection")
            self.literal_or_env(conn, "endpoint_url", out, "endpoint", "platform.s3_connection")
            self.env(conn, "access_key_env", out, "access_key")
            self.env(conn, "secret_key_env", out, "secret_key")
            region_env = _get(conn, "region_env")
            if region_env is not None and "s3_region" in bronze.entries:
                self.error(
                    "give only one of platform.bronze.s3_region and platform.s3_connection.region_env",
                    region_env.pos,
                )
            _copy(bronze, "s3_region", out, "region")
            self.env(conn, "region_env", out, "region")
        elif backend == "azure":
            self.require(bronze, "azure_container", "platform.bronze", "storage_backend azure")
            _copy(bronze, "azure_container", out, "container")
            _copy(bronze, "azure_prefix", out, "prefix")
            conn = platform.get("azure_connection")
            self.literal_or_env(conn, "account_name", out, "account_name", "platform.azure_connection")
            self.env(conn, "account_key_env", out, "account_key")
            self.env(conn, "sas_token_env", out, "sas_token")
            self.env(conn, "connection_string_env", out, "connection_string")
        elif backend == "gcs":
            self.require(bronze, "gcs_bucket", "platform.bronze", "storage_backend gcs")
            _copy(bronze, "gcs_bucket", out, "bucket")
            _copy(bronze, "gcs_prefix", out, "prefix")
            conn = platform.get("gcs_connection")
            self.literal_or_env(conn, "project", out, "project", "platform.gcs_connection")
            self.env(conn, "credentials_env", out, "credentials")
            self.literal_or_env(conn, "endpoint_url", out, "endpoint", "platform.gcs_connection")
        else:
            _copy(bronze, "local_path", out, "path")
        return out

    # --- source --------------------------------------------------------------------

    def source(self, node: PMap) -> PMap:
        type_node = node.get("type")
        kind = _value(type_node, "api")
        section = SOURCE_SECTIONS[kind]
        for other_kind, other in SOURCE_SECTIONS.items():
            if other != section and other in node.entries:
                self.error(
                    f"source.{other} is given but source.type is {kind}",
                    node.entries[other].key_pos,
                    f"set type: {other_kind}, or remove the {other} section",
                )
        body = node.get(section)
        if not isinstance(body, PMap):
            self.error(
                f"source.type {kind} needs a source.{section} section",
                type_node.pos if type_node else _key_pos(node, "system"),
                f"add {section}: with its settings under source:",
            )
            return PMap(pos=node.pos)
        where = f"source.{section}"
        out = PMap(pos=body.pos, title=f"source {kind}")
        out.set("kind", PScalar(kind, type_node.pos if type_node else body.pos))
        {"api": self.api, "db": self.db, "custom": self.custom, "files": self.files}[kind](
            body, out, where
        )
        return out

    def api(self, node: PMap, out: PMap, where: str) -> None:
        for key in ("base_url", "endpoint", "method", "timeout", "verify", "rate_limit", "body"):
            _copy(node, key, out, key)
        headers = self.free_map(node.get("headers"), f"{where}.headers", stringify=True)
        if headers is not None:
            out.set("headers", headers, _key_pos(node, "headers"))
        params = self.free_map(node.get("params"), f"{where}.params", stringify=False)
        out.set("auth", self.auth(node, where), _key_pos(node, "auth_type"))
        self.pagination(node, out, params, where)
        if params is not None:
            out.set("params", params, _key_pos(node, "params"))
        retry = node.get("retry")
        if isinstance(retry, PMap):
            out.set("retry", _renamed(retry, {}, "retry"), _key_pos(node, "retry"))
        incremental = node.get("incremental")
        if isinstance(incremental, PMap):
            out.set("incremental", _renamed(incremental, {}, "incremental"), _key_pos(node, "incremental"))

    def auth(self, node: PMap, where: str) -> PMap:
        type_node = node.get("auth_type")
        kind = _value(type_node, "none")
        at = type_node.pos if type_node else node.pos
        out = PMap(pos=at, title=f"auth {kind}")
        out.set("kind", PScalar(kind, at))
        self.only_for(node, ALL_AUTH_KEYS, AUTH_KEYS[kind], f"auth_type {kind}", where)
        missing_at = _key_pos(node, "auth_type")
        if kind == "bearer":
            self.require(node, "auth_token_env", where, "auth_type bearer", missing_at)
            self.env(node, "auth_token_env", out, "token")
        elif kind == "api_key":
            self.require(node, "auth_key_env", where, "auth_type api_key", missing_at)
            self.one_of(node, "auth_key_name", "auth_key_header", where)
            _copy(node, "auth_key_name", out, "name")
            _copy(node, "auth_key_header", out, "name")
            self.env(node, "auth_key_env", out, "value")
            _copy(node, "auth_key_location", out, "location")
        elif kind == "basic":
            self.require(node, "auth_username_env", where, "auth_type basic", missing_at)
            self.require(node, "auth_password_env", where, "auth_type basic", missing_at)
            self.env(node, "auth_username_env", out, "username")
            self.env(node, "auth_password_env", out, "password")
        elif kind == "oauth2":
            self.require(node, "auth_token_url", where, "auth_type oauth2", missing_at)
            self.require(node, "auth_client_secret_env", where, "auth_type oauth2", missing_at)
            if "auth_client_id" not in node.entries and "auth_client_id_env" not in node.entries:
                self.error(
                    f"auth_type oauth2 needs auth_client_id or auth_client_id_env in {where}",
                    missing_at,
                )
            _copy(node, "auth_token_url", out, "token_url")
            self.literal_or_env(node, "auth_client_id", out, "client_id", where)
            self.env(node, "auth_client_secret_env", out, "client_secret")
            _copy(node, "auth_scope", out, "scope")
            _copy(node, "auth_audience", out, "audience")
        return out

    def pagination(self, api: PMap, out: PMap, params: PMap | None, where: str) -> None:
        node = api.get("pagination")
        if not isinstance(node, PMap):
            _copy(api, "data_path", out, "records")
            return
        where = f"{where}.pagination"
        type_node = node.get("type")
        kind = _value(type_node, "none")
        at = type_node.pos if type_node else node.pos
        page = PMap(pos=node.pos, title=f"paginate {kind}")
        page.set("kind", PScalar(kind, at))
        every = {k for keys in PAGINATION_KEYS.values() for k in keys}
        self.only_for(node, every, PAGINATION_KEYS[kind], f"pagination type {kind}", where)
        if "records_path" in node.entries and "data_path" in api.entries:
            self.error(
                "give only one of pagination.records_path and data_path",
                api.entries["data_path"].key_pos,
                "data_path is the original tool's code name for records_path; keep records_path",
            )
        _copy(node, "records_path", out, "records")
        _copy(api, "data_path", out, "records")
        if kind != "none":
            _copy(node, "max_pages", page, "max_pages")
        if kind == "offset":
            _copy(node, "offset_param", page, "offset_param")
            _copy(node, "limit_param", page, "limit_param")
            _copy(node, "total_path", page, "total_path")
            size_param = _value(node.get("limit_param"), "limit")
            self.page_size(node, params, size_param, page, "limit")
        elif kind == "page":
            _copy(node, "page_param", page, "page_param")
            _copy(node, "page_size_param", page, "size_param")
            _copy(node, "start_page", page, "start_page")
            _copy(node, "total_pages_path", page, "total_pages_path")
            size_param = _value(node.get("page_size_param"), "page_size")
            self.page_size(node, params, size_param, page, "page_size")
        elif kind == "cursor":
            for key in PAGINATION_KEYS["cursor"]:
                _copy(node, key, page, key)
            if not {"cursor_path", "cursor_header", "cursor_field"} & set(node.entries):
                page.set("cursor_path", PScalar(DEFAULT_CURSOR_PATH, at))
        elif kind == "link":
            _copy(node, "rel", page, "rel")
        elif kind == "next_url":
            self.require(node, "next_url_path", where, "pagination type next_url", _key_pos(api, "pagination"))
            _copy(node, "next_url_path", page, "next_url_path")
        out.set("paginate", page, _key_pos(api, "pagination"))

    def page_size(
        self, node: PMap, params: PMap | None, size_param: str, page: PMap, ir_key: str
    ) -> None:
        """The page size: pagination.page_size, else the size parameter's value in
        ``params`` (the spec's ``per_page: 100`` with ``page_size_param: per_page``).
        It leaves ``params``: the paginator sends it on every request."""
        in_params = params.entries.pop(size_param, None) if params is not None else None
        size = node.get("page_size")
        if size is not None:
            page.set(ir_key, size, _key_pos(node, "page_size"))
        elif in_params is not None:
            page.set(ir_key, in_params.value, in_params.key_pos)

    def db(self, node: PMap, out: PMap, where: str) -> None:
        self.env(node, "conn_str_env", out, "connection")
        query = node.get("base_query")
        if isinstance(query, PScalar) and isinstance(query.value, str):
            out.set("query", PScalar(query_text(query.value), query.pos), _key_pos(node, "base_query"))
        renames = {
            "incremental_key": "incremental_key",
            "incremental_cursor_env": "cursor_env",
            "initial_cursor": "initial_cursor",
            "lookback": "lookback",
            "batch_size": "batch_size",
            "partition_column": "partition_column",
            "partitions": "partitions",
            "partition_bounds": "partition_bounds",
            "max_text_size": "max_text_size",
        }
        for key, ir_key in renames.items():
            _copy(node, key, out, ir_key)

    def custom(self, node: PMap, out: PMap, where: str) -> None:
        _copy(node, "module", out, "module")
        _copy(node, "class_name", out, "class_name")
        params = self.free_map(node.get("params"), f"{where}.params", stringify=False, nested=True)
        if params is not None:
            out.set("params", params, _key_pos(node, "params"))

    def files(self, node: PMap, out: PMap, where: str) -> None:
        paths = node.get("paths")
        if isinstance(paths, PScalar):
            paths = PList([paths], paths.pos)
        if paths is not None:
            out.set("paths", paths, _key_pos(node, "paths"))
        for key in ("format", "delimiter", "header"):
            _copy(node, key, out, key)
        options = self.free_map(node.get("options"), f"{where}.options", stringify=False)
        if options is not None:
            out.set("options", options, _key_pos(node, "options"))

    # --- run -----------------------------------------------------------------------

    def run(self, source: PMap, platform: PMap, ir_source: PMap) -> PMap:
        node = source.get("run")
        run = node if isinstance(node, PMap) else PMap(pos=source.pos)
        where = "source.run"
        out = PMap(pos=run.pos, title="run")
        _copy(run, "max_rows_per_file", out, "max_rows_per_file")
        size = run.get("max_file_size_mb")
        if isinstance(size, PScalar) and isinstance(size.value, (int, float)):
            mb = size.value
            out.set(
                "max_file_size",
                PScalar(Quantity(mb * MB, f"{mb}MB", "size"), size.pos),
                _key_pos(run, "max_file_size_mb"),
            )
        _copy(run, "parallel_workers", out, "workers")
        for key in ("local_output_dir", "cleanup_on_failure", "batch_id", "lineage", "allow_empty"):
            _copy(run, key, out, key)
        self.one_of(run, "storage_enabled", "s3_enabled", where)
        _copy(run, "s3_enabled", out, "storage_enabled")
        _copy(run, "storage_enabled", out, "storage_enabled")
        if "storage_enabled" not in out.entries:
            # the original tool uploads only when asked (core/runner.py)
            out.set("storage_enabled", PScalar(False, run.pos))
        self.formats(run, platform, out)
        timeout = run.get("timeout_seconds")
        if timeout is not None:
            if _value(ir_source.get("kind")) != "api":
                self.error(
                    "'timeout_seconds' in source.run is only used by api sources",
                    _key_pos(run, "timeout_seconds"),
                    "remove it",
                )
            elif "timeout" in ir_source.entries:
                self.error(
                    "give only one of source.api.timeout and source.run.timeout_seconds",
                    _key_pos(run, "timeout_seconds"),
                )
            else:
                ir_source.set("timeout", timeout, _key_pos(run, "timeout_seconds"))
        return out

    def formats(self, run: PMap, platform: PMap, out: PMap) -> None:
        defaults = _get(platform, "bronze", "output_defaults")
        chosen: list[PNode] = []
        for fmt, default in (("parquet", None), ("csv", False)):
            allowed = _value(_get(defaults, f"allow_{fmt}"), True)
            written = run.get(f"write_{fmt}")
            # write_parquet defaults to what the platform allows; write_csv to false
            wanted = _value(written, allowed if default is None else default)
            if not wanted:
                continue
            if not allowed:
                assert written is not None
                self.error(
                    f"write_{fmt} is true but the platform does not allow {fmt}",
                    written.pos,
                    f"set write_{fmt}: false, or allow_{fmt}: true in "
                    "platform.bronze.output_defaults",
                )
                continue
            chosen.append(PScalar(fmt, written.pos if written is not None else run.pos))
        if not chosen and not self.errors:
            self.error(
                "nothing to write: write_parquet and write_csv are both false",
                run.pos,
                "set write_parquet: true (or write_csv: true) in source.run",
            )
        out.set("formats", PList(chosen, chosen[0].pos if chosen else run.pos))

    # --- helpers -------------------------------------------------------------------

    def require(
        self, node: PMap, key: str, where: str, because: str, at: Position | None = None
    ) -> None:
        if key not in node.entries:
            self.error(f"{because} needs '{key}' in {where}", at or node.pos)

    def one_of(self, node: PMap, keep: str, old: str, where: str) -> None:
        if keep in node.entries and old in node.entries:
            self.error(
                f"give only one of '{keep}' and '{old}' in {where}",
                node.entries[old].key_pos,
                f"they mean the same; keep {keep}",
            )

    def only_for(
        self, node: PMap, family: set[str], allowed: tuple[str, ...], what: str, where: str
    ) -> None:
        for key, entry in node.entries.items():
            if key in family and key not in allowed:
                self.error(
                    f"'{key}' is not used by {what} in {where}",
                    entry.key_pos,
                    f"{what} takes: {', '.join(allowed)}" if allowed else "remove it",
                )

    def env(self, node: PNode | None, key: str, out: PMap, ir_key: str) -> None:
        """``*_env: NAME`` → ``Env(NAME)`` (the name was checked by the schema)."""
        value = _get(node, key)
        if isinstance(value, PScalar) and isinstance(value.value, str):
            assert isinstance(node, PMap)
            out.set(ir_key, PScalar(Env(value.value), value.pos), node.entries[key].key_pos)

    def literal_or_env(
        self, node: PNode | None, key: str, out: PMap, ir_key: str, where: str
    ) -> None:
        if not isinstance(node, PMap):
            return
        self.one_of(node, f"{key}_env", key, where)
        _copy(node, key, out, ir_key)
        self.env(node, f"{key}_env", out, ir_key)

    def free_map(
        self, node: PNode | None, where: str, stringify: bool, nested: bool = False
    ) -> PMap | None:
        """A user's key → value map: ``{env: NAME}`` becomes an env reference, and a
        secret written as a literal is an error."""
        if not isinstance(node, PMap):
            return None
        out = PMap(pos=node.pos, title=where)
        for key, entry in node.entries.items():
            value = entry.value
            env_name = _env_form(value)
            if env_name is not None:
                value = PScalar(Env(env_name), value.pos)
            elif isinstance(value, PScalar):
                if isinstance(value.value, str) and value.value and (
                    SECRET_KEY_RE.search(key) or PASSWORD_IN_TEXT_RE.search(value.value)
                ):
                    self.error(
                        f"'{key}' in {where} holds a secret written in the file",
                        value.pos,
                        f"write {key}: {{env: NAME}} and set NAME in the environment",
                    )
                if stringify and value.value is not None and not isinstance(value.value, str):
                    text = str(value.value).lower() if isinstance(value.value, bool) else str(value.value)
                    value = PScalar(text, value.pos)
            elif nested and isinstance(value, PMap):
                value = self.free_map(value, f"{where}.{key}", stringify, nested) or value
            elif nested and isinstance(value, PList):
                value = PList(list(self._free_items(value, f"{where}.{key}")), value.pos)
            out.entries[key] = PEntry(entry.key_pos, value)
        return out

    def _free_items(self, node: PList, where: str) -> Iterator[PNode]:
        for item in node.items:
            if isinstance(item, PMap):
                env_name = _env_form(item)
                yield (
                    PScalar(Env(env_name), item.pos)
                    if env_name is not None
                    else self.free_map(item, where, False, True) or item
                )
            else:
                yield item


def _env_form(node: PNode) -> str | None:
    """NAME for a value written ``{env: NAME}``."""
    if isinstance(node, PMap) and list(node.entries) == ["env"]:
        name = node.get("env")
        if isinstance(name, PScalar) and isinstance(name.value, str):
            return name.value
    return None


def _copy(src: PNode | None, key: str, out: PMap, ir_key: str) -> None:
    """``src[key]`` into ``out[ir_key]`` with its positions, when it is there."""
    if isinstance(src, PMap) and key in src.entries:
        entry = src.entries[key]
        out.entries[ir_key] = PEntry(entry.key_pos, entry.value)


def _renamed(node: PMap, renames: dict[str, str], title: str) -> PMap:
    out = PMap(pos=node.pos, title=title)
    for key, entry in node.entries.items():
        out.entries[renames.get(key, key)] = entry
    return out


def query_text(text: str) -> str:
    """A multi-line query as written: common indentation removed, and the
    newline a YAML ``|`` block (or a ``.bronze`` triple-quoted string) ends
    with dropped."""
    return textwrap.dedent(text).strip("\n")
