"""Front ends: which names and values are secrets, and where in the text they are.

A literal secret in a pipeline file is refused at its position, and the error's
snippet shows ``***`` in its place (``Diagnostic.secret_spans``). A name is
compared squashed: lower case, only letters and digits, so that access_token,
accessToken, access-token and AccessToken are one name; pagination tokens
(page_token, nextPageToken, ...) are not secrets.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from typing import Literal

from foundry_dsl.errors import Position
from foundry_dsl.frontends.positioned import PList, PMap, PNode

#: names that end like this hold a secret ...
SECRET_NAME_ENDINGS = (
    "token", "password", "passwd", "pwd", "passphrase", "secret", "authorization",
    "cookie", "sessionid", "apikey", "privatekey", "secretkey", "accesskey", "accountkey",
    "subscriptionkey", "signingkey", "masterkey", "encryptionkey",
)  # fmt: skip
#: ... except a token a server hands out to fetch the next page or the next
#: changes: it is a position, not a credential (page_token, nextPageToken,
#: NextToken, continuation_token, syncToken, $skiptoken, $deltatoken)
PAGINATION_TOKENS = tuple(
    f"{w}token"
    for w in (
        "page", "next", "prev", "previous", "pagination", "continuation", "cursor",
        "sync", "resume", "resumption", "delta", "skip",
    )
)  # fmt: skip
#: in a URL's query (or an api source's params) these are secrets too: Google's
#: ?key=, Azure's SAS ?sig=, S3's presigned ?X-Amz-Signature=
QUERY_SECRET_NAMES = ("key", "sig")
QUERY_SECRET_ENDINGS = ("signature",)
#: an ODBC connection string's password: PWD=... or PWD={...}
PASSWORD_IN_TEXT_RE = re.compile(
    r"(?:^|;)\s*(?:PWD|PASSWORD)\s*=\s*(\{[^}]*\}?|[^;]*)", re.IGNORECASE
)
_URL_AUTHORITY_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://([^/?#\s]*)")
_QUERY_PAIR_RE = re.compile(r"([^&;#?=]+)=([^&;#?]*)")
_PARAM_NAME_RE = re.compile(r"[\w.\-\[\]$%~]+")


def is_secret_name(name: str, query: bool = False) -> bool:
    """A key or parameter whose value is a secret; ``query`` for a URL's query
    parameter (or an api source's params), where ``key`` and ``sig`` are too."""
    squashed = re.sub(r"[^a-z0-9]", "", name.lower())
    if squashed.endswith(PAGINATION_TOKENS):
        return False
    if squashed.endswith(SECRET_NAME_ENDINGS):
        return True
    return query and (squashed in QUERY_SECRET_NAMES or squashed.endswith(QUERY_SECRET_ENDINGS))


@dataclasses.dataclass(frozen=True)
class Secret:
    """A secret inside a string: ``text[start:end]``; ``what`` says what it is:
    "password" (in a URL's user:password@ or a connection string's PWD=), or
    "param" for a query parameter named ``name``."""

    start: int
    end: int
    what: Literal["password", "param"]
    name: str = ""


def secrets_in(text: str) -> list[Secret]:
    """Secrets written inside ``text``: a URL's password, a URL's secret-looking
    query parameters, a connection string's PWD=. In the order written."""
    found: list[Secret] = []
    for m in PASSWORD_IN_TEXT_RE.finditer(text):
        value = m[1].rstrip()
        if value:
            found.append(Secret(m.start(1), m.start(1) + len(value), "password"))
    for m in _URL_AUTHORITY_RE.finditer(text):
        userinfo, at, _ = m[1].rpartition("@")
        _, colon, password = userinfo.partition(":")
        if at and colon and password:
            end = m.start(1) + len(userinfo)
            found.append(Secret(end - len(password), end, "password"))
    query = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=-1)
    if query >= 0 and not any(c.isspace() for c in text):  # a URL, not prose or SQL
        for m in _QUERY_PAIR_RE.finditer(text, query):
            name = urllib.parse.unquote(m[1])
            if m[2] and _PARAM_NAME_RE.fullmatch(name) and is_secret_name(name, query=True):
                found.append(Secret(m.start(2), m.end(2), "param", name))
    return sorted(found, key=lambda s: s.start)


def secret_position(pos: Position, value: str, start: int = 0, end: int | None = None) -> Position:
    """Where ``value[start:end]`` was written, ``pos`` being the whole literal's
    place. When the literal does not map character for character (escapes, a
    multi-line string) the whole literal: too much hidden rather than too little."""
    end = len(value) if end is None else end
    if pos.end_col is not None and pos.end_line in (None, pos.line):
        width = pos.end_col - pos.col
        quote = {len(value): 0, len(value) + 2: 1}.get(width)  # plain, or "..." / '...'
        if quote is not None:
            col = pos.col + quote
            return Position(pos.file, pos.line, col + start, pos.line, col + end)
    return pos


def leaf_positions(node: PNode) -> list[Position]:
    """Where each value inside ``node`` was written (a string without its quotes)."""
    if isinstance(node, PMap):
        return [p for e in node.entries.values() for p in leaf_positions(e.value)]
    if isinstance(node, PList):
        return [p for i in node.items for p in leaf_positions(i)]
    if node.pos is None or node.value is None:
        return []
    return [secret_position(node.pos, node.value) if isinstance(node.value, str) else node.pos]


def secret_message(key: str, secret: Secret, where: str = "") -> str:
    """What a secret found inside a value is, never the secret itself."""
    subject = f"'{key}' in {where}" if where else f"'{key}'"
    if secret.what == "param":
        return f"{subject} holds a secret written in the file: the URL parameter '{secret.name}'"
    return f"{subject} holds a password written in the file"




def secret_help(key: str, title: str, env_ok: bool, secret: Secret) -> str:
    if title == "source api" and key in ("base_url", "endpoint"):
        if secret.what == "param":
            return (
                f"take {secret.name}=... out of the URL and write auth api_key "
                f'{{ name = "{secret.name}" location = query value = env("NAME") }}'
            )
        return (
            "take user:password@ out of the URL and write auth basic "
            '{ username = "..." password = env("NAME") }'
        )
    if env_ok:
        return f'write {key} = env("NAME") and set NAME in the environment'
    if title == "source files":
        return 'take it out of the path and give credentials in options { ... = env("NAME") }'
    return 'take it out of the URL: a secret is given only as env("NAME")'




API_PARAMS = ("source api", "params")
