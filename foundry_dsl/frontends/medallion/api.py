"""The spec's ``source.api`` section → the IR api source: request settings,
auth, pagination, headers and params.

Front-end layer, part of step 3 of :mod:`.compile`. The spec keeps every
auth and pagination setting flat in one section; only the keys of the chosen
``auth_type`` and pagination ``type`` are allowed, so a leftover key from
another kind is reported rather than silently ignored.
"""

from __future__ import annotations

from foundry_dsl.frontends.medallion.mapping import Mapper, copy_entry, key_pos, renamed, value_of
from foundry_dsl.frontends.positioned import PMap, PScalar

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

# The original tool's default cursor location (extractors/api_extractor.py).
DEFAULT_CURSOR_PATH = "next_cursor"


def api(m: Mapper, node: PMap, out: PMap, where: str) -> None:
    """Fill ``out`` (the IR source, kind api) from ``source.api``."""
    for key in ("base_url", "endpoint", "method", "timeout", "verify", "rate_limit", "body",
                "parse_dates"):
        copy_entry(node, key, out, key)
    m.url_secrets(node, "base_url", where)
    m.url_secrets(node, "endpoint", where)
    headers = m.free_map(node.get("headers"), f"{where}.headers", stringify=True)
    if headers is not None:
        out.set("headers", headers, key_pos(node, "headers"))
    params = m.free_map(node.get("params"), f"{where}.params", stringify=False, query=True)
    out.set("auth", _auth(m, node, where), key_pos(node, "auth_type"))
    _pagination(m, node, out, params, where)
    if params is not None:
        out.set("params", params, key_pos(node, "params"))
    retry = node.get("retry")
    if isinstance(retry, PMap):
        out.set("retry", renamed(retry, {}, "retry"), key_pos(node, "retry"))
    incremental = node.get("incremental")
    if isinstance(incremental, PMap):
        out.set("incremental", renamed(incremental, {}, "incremental"), key_pos(node, "incremental"))


def _auth(m: Mapper, node: PMap, where: str) -> PMap:
    type_node = node.get("auth_type")
    kind = value_of(type_node, "none")
    at = type_node.pos if type_node else node.pos
    out = PMap(pos=at, title=f"auth {kind}")
    out.set("kind", PScalar(kind, at))
    m.only_for(node, ALL_AUTH_KEYS, AUTH_KEYS[kind], f"auth_type {kind}", where)
    missing_at = key_pos(node, "auth_type")
    if kind == "bearer":
        m.require(node, "auth_token_env", where, "auth_type bearer", missing_at)
        m.env(node, "auth_token_env", out, "token")
    elif kind == "api_key":
        m.require(node, "auth_key_env", where, "auth_type api_key", missing_at)
        m.one_of(node, "auth_key_name", "auth_key_header", where)
        copy_entry(node, "auth_key_name", out, "name")
        copy_entry(node, "auth_key_header", out, "name")
        m.env(node, "auth_key_env", out, "value")
        copy_entry(node, "auth_key_location", out, "location")
    elif kind == "basic":
        m.require(node, "auth_username_env", where, "auth_type basic", missing_at)
        m.require(node, "auth_password_env", where, "auth_type basic", missing_at)
        m.env(node, "auth_username_env", out, "username")
        m.env(node, "auth_password_env", out, "password")
    elif kind == "oauth2":
        m.require(node, "auth_token_url", where, "auth_type oauth2", missing_at)
        m.require(node, "auth_client_secret_env", where, "auth_type oauth2", missing_at)
        if "auth_client_id" not in node.entries and "auth_client_id_env" not in node.entries:
            m.error(
                f"auth_type oauth2 needs auth_client_id or auth_client_id_env in {where}",
                missing_at,
            )
        copy_entry(node, "auth_token_url", out, "token_url")
        m.literal_or_env(node, "auth_client_id", out, "client_id", where)
        m.env(node, "auth_client_secret_env", out, "client_secret")
        copy_entry(node, "auth_scope", out, "scope")
        copy_entry(node, "auth_audience", out, "audience")
    return out


def _pagination(m: Mapper, api: PMap, out: PMap, params: PMap | None, where: str) -> None:
    node = api.get("pagination")
    if not isinstance(node, PMap):
        copy_entry(api, "data_path", out, "records")
        return
    where = f"{where}.pagination"
    type_node = node.get("type")
    kind = value_of(type_node, "none")
    at = type_node.pos if type_node else node.pos
    page = PMap(pos=node.pos, title=f"paginate {kind}")
    page.set("kind", PScalar(kind, at))
    every = {k for keys in PAGINATION_KEYS.values() for k in keys}
    m.only_for(node, every, PAGINATION_KEYS[kind], f"pagination type {kind}", where)
    if "records_path" in node.entries and "data_path" in api.entries:
        m.error(
            "give only one of pagination.records_path and data_path",
            api.entries["data_path"].key_pos,
            "data_path is the original tool's code name for records_path; keep records_path",
        )
    copy_entry(node, "records_path", out, "records")
    copy_entry(api, "data_path", out, "records")
    if kind != "none":
        copy_entry(node, "max_pages", page, "max_pages")
    if kind == "offset":
        copy_entry(node, "offset_param", page, "offset_param")
        copy_entry(node, "limit_param", page, "limit_param")
        copy_entry(node, "total_path", page, "total_path")
        size_param = value_of(node.get("limit_param"), "limit")
        _page_size(m, node, params, size_param, page, "limit")
    elif kind == "page":
        copy_entry(node, "page_param", page, "page_param")
        copy_entry(node, "page_size_param", page, "size_param")
        copy_entry(node, "start_page", page, "start_page")
        copy_entry(node, "total_pages_path", page, "total_pages_path")
        size_param = value_of(node.get("page_size_param"), "page_size")
        _page_size(m, node, params, size_param, page, "page_size")
    elif kind == "cursor":
        for key in PAGINATION_KEYS["cursor"]:
            copy_entry(node, key, page, key)
        if not {"cursor_path", "cursor_header", "cursor_field"} & set(node.entries):
            page.set("cursor_path", PScalar(DEFAULT_CURSOR_PATH, at))
    elif kind == "link":
        copy_entry(node, "rel", page, "rel")
    elif kind == "next_url":
        m.require(node, "next_url_path", where, "pagination type next_url", key_pos(api, "pagination"))
        copy_entry(node, "next_url_path", page, "next_url_path")
    out.set("paginate", page, key_pos(api, "pagination"))


def _page_size(
    m: Mapper, node: PMap, params: PMap | None, size_param: str, page: PMap, ir_key: str
) -> None:
    """The page size: pagination.page_size, else the size parameter's value in
    ``params`` (the spec's ``per_page: 100`` with ``page_size_param: per_page``).
    It leaves ``params``: the paginator sends it on every request."""
    in_params = params.entries.pop(size_param, None) if params is not None else None
    size = node.get("page_size")
    if size is not None:
        page.set(ir_key, size, key_pos(node, "page_size"))
    elif in_params is not None:
        page.set(ir_key, in_params.value, in_params.key_pos)
