"""Source layer, API: an :class:`~foundry_dsl.ir.Auth` → headers and query params.

Hands :class:`~foundry_dsl.sources.http.client.HttpClient` an
:class:`Authenticator` that decorates every request, says which query params
must be redacted, lists the secret values it has resolved (for redaction),
and, for OAuth2, fetches, caches and refreshes the access token.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from foundry_dsl import ir
from foundry_dsl.errors import ExtractError

if TYPE_CHECKING:
    from foundry_dsl.sources.http.transport import Response

# a token is renewed this long before it expires, so it never expires in flight
EXPIRY_MARGIN = 5.0

TokenFetcher = Callable[[str, dict[str, str]], "Response"]


class Authenticator:
    """No authentication; the base of the others."""

    #: query params whose values never appear in logs or errors
    secret_params: frozenset[str] = frozenset()

    def prepare(self, headers: dict[str, str], params: dict[str, Any]) -> object:
        """Add credentials; returns a token identifying them (for :meth:`refresh`)."""
        return None

    def refresh(self, used: object) -> bool:
        """After a 401 with credentials ``used``: True when a retry may succeed."""
        return False

    def secrets(self) -> list[str]:
        return []


class BearerAuthenticator(Authenticator):
    def __init__(self, auth: ir.BearerAuth) -> None:
        self.token = _required(auth.token)

    def prepare(self, headers: dict[str, str], params: dict[str, Any]) -> object:
        headers["Authorization"] = f"Bearer {self.token}"
        return None

    def secrets(self) -> list[str]:
        return [self.token]


class ApiKeyAuthenticator(Authenticator):
    def __init__(self, auth: ir.ApiKeyAuth) -> None:
        self.name = auth.name
        self.value = _required(auth.value)
        self.in_query = auth.location == "query"
        if self.in_query:
            self.secret_params = frozenset({auth.name})

    def prepare(self, headers: dict[str, str], params: dict[str, Any]) -> object:
        if self.in_query:
            params[self.name] = self.value
        else:
            headers[self.name] = self.value
        return None

    def secrets(self) -> list[str]:
        return [self.value]


class BasicAuthenticator(Authenticator):
    def __init__(self, auth: ir.BasicAuth) -> None:
        self._use(_required(auth.username), _required(auth.password))

    @classmethod
    def from_credentials(cls, username: str, password: str) -> BasicAuthenticator:
        """Basic auth from a URL's userinfo (``https://user:password@host``), decoded."""
        self = cls.__new__(cls)
        self._use(username, password)
        return self

    def _use(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        raw = f"{self.username}:{self.password}".encode()
        self.header = "Basic " + base64.b64encode(raw).decode()

    def prepare(self, headers: dict[str, str], params: dict[str, Any]) -> object:
        headers["Authorization"] = self.header
        return None

    def secrets(self) -> list[str]:
        # the encoded header carries the password too; a URL's token-as-user has no password
        return [self.password or self.username, self.header.removeprefix("Basic ")]


class OAuth2Authenticator(Authenticator):
    """Client credentials grant (RFC 6749 §4.4), credentials in the form body.

    The token is shared by every fetching thread; it is renewed shortly before
    ``expires_in`` runs out, and at once when the API answers 401 to it.
    """

    def __init__(self, auth: ir.OAuth2Auth, fetch: TokenFetcher) -> None:
        self.auth = auth
        self.client_id = _required(auth.client_id)
        self.client_secret = _required(auth.client_secret)
        self._fetch = fetch
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self._issued: list[str] = []

    def prepare(self, headers: dict[str, str], params: dict[str, Any]) -> object:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                self._obtain()
            token = self._token
        headers["Authorization"] = f"Bearer {token}"
        return token

    def refresh(self, used: object) -> bool:
        with self._lock:
            if used is not None and used == self._token:
                self._token = None  # the next prepare() obtains a new one
        return True

    def secrets(self) -> list[str]:
        return [self.client_secret, *self._issued]

    def _obtain(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.auth.scope:
            form["scope"] = self.auth.scope
        if self.auth.audience:
            form["audience"] = self.auth.audience
        resp = self._fetch(self.auth.token_url, form)
        from foundry_dsl.sources.http.records import parse_json

        doc = parse_json(resp.body, f"the OAuth2 token endpoint {self.auth.token_url}")
        token = doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise ExtractError(
                f"the OAuth2 token endpoint {self.auth.token_url} answered without an "
                "access_token; check token_url, client_id and scope"
            )
        self._issued.append(token)
        expires_in = doc.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        self._token = token
        self._expires_at = time.monotonic() + max(0.0, lifetime - min(EXPIRY_MARGIN, lifetime / 2))


def authenticator_for(auth: ir.Auth, fetch_token: TokenFetcher) -> Authenticator:
    """The authenticator of an auth kind; secrets are read from the environment here."""
    if auth.kind == "oauth2":
        return OAuth2Authenticator(auth, fetch_token)
    make = AUTHENTICATORS.get(auth.kind)
    return make(auth) if make else Authenticator()


#: one entry per auth kind of the IR (``none`` has no entry: it adds nothing)
AUTHENTICATORS: dict[str, Callable[..., Authenticator]] = {
    "bearer": BearerAuthenticator,
    "api_key": ApiKeyAuthenticator,
    "basic": BasicAuthenticator,
    "oauth2": OAuth2Authenticator,
}


def _required(value: str | ir.EnvRef) -> str:
    resolved = ir.resolve(value)
    assert resolved is not None  # resolve() raises for a missing required variable
    return resolved
