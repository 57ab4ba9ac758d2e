"""URLs as shown to people: credentials masked, whatever the URL came from.

A URL can carry secrets in two places: its userinfo (``https://user:pw@host``)
and its query (``?access_token=...``, ``&X-Amz-Signature=...``).
:func:`redact_url` masks both in one URL, :func:`redact_text` in every URL
(or bare ``?name=value`` query) of a free text such as a log line or an error
message. :func:`split_credentials` takes userinfo out of a URL before it is
sent (it becomes an ``Authorization: Basic`` header, as curl and requests do)
and :func:`url_secrets` lists the secret values a URL holds, for value-based
redaction. Pure string work: nothing here imports the rest of foundry.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

MASK = "***"

#: query parameter names (lower case, without ``-`` and ``_``) whose values are secrets
SECRET_PARAMS = frozenset({
    "accesstoken", "token", "apitoken", "authtoken", "idtoken", "refreshtoken",
    "sessiontoken", "securitytoken", "apikey", "key", "accesskey", "secretkey",
    "privatekey", "subscriptionkey", "password", "passwd", "pwd", "pass", "secret",
    "clientsecret", "sig", "signature", "xamzsignature", "xamzcredential",
    "xamzsecuritytoken", "xgoogsignature", "xgoogcredential", "auth", "authorization",
    "credential", "credentials",
})
#: ...and names ending like these (``my_api_key``, ``appSecret``, ``db_password``)
_SECRET_SUFFIXES = ("secret", "password", "passwd", "signature", "apikey", "accesstoken",
                    "apitoken", "authtoken", "secretkey", "privatekey", "accesskey")

# scheme://userinfo@ : the userinfo runs to the last @ before the path
_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://)([^/?#\s\"'<>@]*(?:@[^/?#\s\"'<>@]*)*)@")
# ?name=value, &name=value, ;name=value, #name=value (OAuth puts tokens in fragments)
_PARAM = re.compile(r"([?&;#])([^=&;?#\s\"'<>]+)=([^&;#\s\"'<>]*)")


def is_secret_param(name: str, extra: Iterable[str] = ()) -> bool:
    """Whether a query parameter's value is a credential (``extra``: names that are, exactly)."""
    if name in extra:
        return True
    key = unquote(name).lower().replace("-", "").replace("_", "")
    return key in SECRET_PARAMS or key.endswith(_SECRET_SUFFIXES)


def redact_url(url: str, extra_params: Iterable[str] = ()) -> str:
    """``url`` with its userinfo and the values of secret-looking query params as ``***``.

    Everything else is left as written (no re-encoding), so the result still matches
    what was sent, byte for byte, apart from the masks.
    """
    names = frozenset(extra_params)
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL urllib can split (a stray "[" in the host): as text
        return redact_text(url, names)
    if not parts.scheme and not parts.netloc:
        return redact_text(url, names)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = MASK + "@" + netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=netloc, query=_mask_query(parts.query, names),
                                     fragment=_mask_query(parts.fragment, names)))


def redact_text(text: str, extra_params: Iterable[str] = ()) -> str:
    """Every URL's userinfo and every secret-looking ``name=value`` after ``?``/``&`` masked."""
    names = frozenset(extra_params)
    if "@" in text:
        text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    if "=" in text:
        text = _PARAM.sub(
            lambda m: f"{m.group(1)}{m.group(2)}={MASK}"
            if m.group(3) and is_secret_param(m.group(2), names) else m.group(0),
            text,
        )
    return text


def _mask_query(query: str, names: frozenset[str]) -> str:
    if "=" not in query:
        return query
    out = []
    for item in query.split("&"):
        name, eq, value = item.partition("=")
        out.append(f"{name}={MASK}" if eq and value and is_secret_param(name, names) else item)
    return "&".join(out)


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``url`` without its userinfo, and the (percent-decoded) user and password it held.

    ``https://user:p%40ss@host/x`` → ``("https://host/x", ("user", "p@ss"))``; a URL
    without userinfo comes back unchanged with ``None``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, None
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=host)), (unquote(user), unquote(password))


def basic_header(user: str, password: str) -> str:
    """The ``Authorization`` value of HTTP basic auth (RFC 7617, UTF-8)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def url_secrets(url: str, extra_params: Iterable[str] = ()) -> list[str]:
    """The secret values ``url`` holds, as written and percent-decoded: the password
    (or, without one, the user name: ``https://TOKEN@host``), its basic-auth encoding,
    and the values of secret-looking query params."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    if "@" in parts.netloc:
        userinfo = parts.netloc.rpartition("@")[0]
        user, colon, password = userinfo.partition(":")
        raw = password if colon and password else user
        found += [raw, unquote(raw)]
        found.append(basic_header(unquote(user), unquote(password)).removeprefix("Basic "))
    names = frozenset(extra_params)
    for piece in (parts.query, parts.fragment):
        for item in piece.split("&"):
            name, eq, value = item.partition("=")
            if eq and value and is_secret_param(name, names):
                found += [value, unquote(value.replace("+", " "))]
    return list(dict.fromkeys(v for v in found if v))


def origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of ``url``, the default port made explicit; None if unparsable."""
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def join(base: str, endpoint: str) -> str:
    """``base`` + ``endpoint`` with one ``/`` between; an absolute ``endpoint`` as is."""
    if not endpoint:
        return base
    if "://" in endpoint:
        return endpoint
    return base.rstrip("/") + "/" + endpoint.lstrip("/")
