"""The toolkit every section mapper shares: one document's errors and the
moves that carry a spec key onto an IR key with its positions.

Front-end layer. :class:`Mapper` collects the errors of one YAML document
(reported only when the document is done, so a document with errors builds
no IR) and holds the checks that tie one key to another; the functions below
read and copy positioned values without reporting anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from foundry_dsl.errors import Diagnostic, Position
from foundry_dsl.frontends.positioned import Env, PEntry, PList, PMap, PNode, PScalar
from foundry_dsl.frontends.secrets import (
    Secret,
    is_secret_name,
    leaf_positions,
    secret_message,
    secret_position,
    secrets_in,
)


class Mapper:
    """One YAML document being mapped onto the IR: its file, and the errors so far."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[Diagnostic] = []

    def error(
        self,
        message: str,
        pos: Position | None,
        help: str | None = None,
        secrets: Sequence[Position] = (),
    ) -> None:
        self.errors.append(Diagnostic(message, pos, help, secret_spans=tuple(secrets)))

    def url_secrets(self, node: PMap, key: str, where: str) -> None:
        """A password or a secret query parameter written in the URL ``node[key]``:
        the spec's auth settings carry them instead."""
        value = node.get(key)
        if not isinstance(value, PScalar) or not isinstance(value.value, str) or not value.pos:
            return
        inside = secrets_in(value.value)
        spans = [secret_position(value.pos, value.value, s.start, s.end) for s in inside]
        for secret, span in zip(inside, spans, strict=True):
            self.error(secret_message(key, secret, where), span, _auth_help(secret), spans)

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
        value = get_in(node, key)
        if isinstance(value, PScalar) and isinstance(value.value, str):
            assert isinstance(node, PMap)
            out.set(ir_key, PScalar(Env(value.value), value.pos), node.entries[key].key_pos)

    def literal_or_env(
        self, node: PNode | None, key: str, out: PMap, ir_key: str, where: str
    ) -> None:
        if not isinstance(node, PMap):
            return
        self.one_of(node, f"{key}_env", key, where)
        copy_entry(node, key, out, ir_key)
        self.env(node, f"{key}_env", out, ir_key)

    def free_map(
        self,
        node: PNode | None,
        where: str,
        stringify: bool,
        nested: bool = False,
        query: bool = False,
    ) -> PMap | None:
        """A user's key → value map: ``{env: NAME}`` becomes an env reference, and a
        secret written as a literal is an error (``query`` for query parameters,
        where ``key`` and ``sig`` are secrets too)."""
        if not isinstance(node, PMap):
            return None
        out = PMap(pos=node.pos, title=where)
        for key, entry in node.entries.items():
            value = entry.value
            env_name = _env_form(value)
            if env_name is not None:
                value = PScalar(Env(env_name), value.pos)
            elif isinstance(value, PScalar):
                self._literal_secret(key, value, where, query)
                if stringify and value.value is not None and not isinstance(value.value, str):
                    text = str(value.value).lower() if isinstance(value.value, bool) else str(value.value)
                    value = PScalar(text, value.pos)
            elif nested and isinstance(value, PMap):
                value = self.free_map(value, f"{where}.{key}", stringify, nested) or value
            elif nested and isinstance(value, PList):
                value = PList(list(self._free_items(value, f"{where}.{key}")), value.pos)
            out.entries[key] = PEntry(entry.key_pos, value)
        return out

    def _literal_secret(self, key: str, value: PScalar, where: str, query: bool) -> None:
        v = value.value
        if value.pos is None or isinstance(v, bool) or not isinstance(v, str | int | float):
            return
        help = f"write {key}: {{env: NAME}} and set NAME in the environment"
        if str(v) and is_secret_name(key, query):
            self.error(
                f"'{key}' in {where} holds a secret written in the file",
                value.pos,
                help,
                leaf_positions(value),
            )
            return
        inside = secrets_in(v) if isinstance(v, str) else []
        spans = [secret_position(value.pos, str(v), s.start, s.end) for s in inside]
        for secret, span in zip(inside, spans, strict=True):
            self.error(secret_message(key, secret, where), span, help, spans)

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


def _auth_help(secret: Secret) -> str:
    if secret.what == "param":
        return (
            f"take {secret.name}=... out of the URL and set auth_type: api_key with "
            f"auth_key_name: {secret.name}, auth_key_location: query and auth_key_env: NAME"
        )
    return (
        "take user:password@ out of the URL and set auth_type: basic with "
        "auth_username_env and auth_password_env"
    )


def get_in(node: PNode | None, *keys: str) -> PNode | None:
    """``node[k1][k2]...``, or None where a section is missing."""
    for k in keys:
        if not isinstance(node, PMap):
            return None
        node = node.get(k)
    return node


def value_of(node: PNode | None, default: Any = None) -> Any:
    """A scalar's plain value, or ``default`` for an absent key or a section."""
    return node.value if isinstance(node, PScalar) else default


def key_pos(node: PMap, key: str) -> Position | None:
    """Where ``key`` was written; the section's own position when it was not."""
    entry = node.entries.get(key)
    return entry.key_pos if entry else node.pos


def _env_form(node: PNode) -> str | None:
    """NAME for a value written ``{env: NAME}``."""
    if isinstance(node, PMap) and list(node.entries) == ["env"]:
        name = node.get("env")
        if isinstance(name, PScalar) and isinstance(name.value, str):
            return name.value
    return None


def copy_entry(src: PNode | None, key: str, out: PMap, ir_key: str) -> None:
    """``src[key]`` into ``out[ir_key]`` with its positions, when it is there."""
    if isinstance(src, PMap) and key in src.entries:
        entry = src.entries[key]
        out.entries[ir_key] = PEntry(entry.key_pos, entry.value)


def renamed(node: PMap, renames: dict[str, str], title: str) -> PMap:
    out = PMap(pos=node.pos, title=title)
    for key, entry in node.entries.items():
        out.entries[renames.get(key, key)] = entry
    return out

