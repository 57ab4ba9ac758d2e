"""The spec's ``source:`` extractor section → the IR source: ``source.type``
picks the section (``api``, ``db``, ``custom_extractor``, ``files``) and this
module maps db, custom and files itself; :mod:`.api` maps the api section.

Front-end layer, part of step 3 of :mod:`.compile`.
"""

from __future__ import annotations

import textwrap

from foundry_dsl.frontends.medallion.api import api
from foundry_dsl.frontends.medallion.mapping import Mapper, copy_entry, key_pos, value_of
from foundry_dsl.frontends.positioned import PList, PMap, PScalar

SOURCE_SECTIONS = {"api": "api", "db": "db", "custom": "custom_extractor", "files": "files"}


def source(m: Mapper, node: PMap) -> PMap:
    """``source:`` → the IR source of the kind ``source.type`` names."""
    type_node = node.get("type")
    kind = value_of(type_node, "api")
    section = SOURCE_SECTIONS[kind]
    for other_kind, other in SOURCE_SECTIONS.items():
        if other != section and other in node.entries:
            m.error(
                f"source.{other} is given but source.type is {kind}",
                node.entries[other].key_pos,
                f"set type: {other_kind}, or remove the {other} section",
            )
    body = node.get(section)
    if not isinstance(body, PMap):
        m.error(
            f"source.type {kind} needs a source.{section} section",
            type_node.pos if type_node else key_pos(node, "system"),
            f"add {section}: with its settings under source:",
        )
        return PMap(pos=node.pos)
    where = f"source.{section}"
    out = PMap(pos=body.pos, title=f"source {kind}")
    out.set("kind", PScalar(kind, type_node.pos if type_node else body.pos))
    {"api": api, "db": _db, "custom": _custom, "files": _files}[kind](m, body, out, where)
    return out


def _db(m: Mapper, node: PMap, out: PMap, where: str) -> None:
    m.env(node, "conn_str_env", out, "connection")
    query = node.get("base_query")
    if isinstance(query, PScalar) and isinstance(query.value, str):
        out.set("query", PScalar(query_text(query.value), query.pos), key_pos(node, "base_query"))
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
        "driver": "driver",
    }
    for key, ir_key in renames.items():
        copy_entry(node, key, out, ir_key)


def _custom(m: Mapper, node: PMap, out: PMap, where: str) -> None:
    copy_entry(node, "module", out, "module")
    copy_entry(node, "class_name", out, "class_name")
    params = m.free_map(node.get("params"), f"{where}.params", stringify=False, nested=True)
    if params is not None:
        out.set("params", params, key_pos(node, "params"))


def _files(m: Mapper, node: PMap, out: PMap, where: str) -> None:
    paths = node.get("paths")
    if isinstance(paths, PScalar):
        paths = PList([paths], paths.pos)
    if paths is not None:
        out.set("paths", paths, key_pos(node, "paths"))
    for key in ("format", "delimiter", "header"):
        copy_entry(node, key, out, key)
    options = m.free_map(node.get("options"), f"{where}.options", stringify=False)
    if options is not None:
        out.set("options", options, key_pos(node, "options"))


def query_text(text: str) -> str:
    """A multi-line query as written: common indentation removed, and the
    newline a YAML ``|`` block (or a ``.bronze`` triple-quoted string) ends
    with dropped."""
    return textwrap.dedent(text).strip("\n")
