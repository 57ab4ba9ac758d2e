"""How the database source reaches its database: the interface of one driver.

Part of the database source. ``db`` builds the SQL (``sql.query``) and decides
what to read; a :class:`Link` connects, describes the query's columns, runs the
one-row aggregates of ``prepare`` and streams the rows as Arrow record batches
in their exact types. Two links: ODBC (``sql.odbc``: any driver, arrow-odbc)
and ADBC (``sql.adbc``: PostgreSQL through libpq's binary COPY). ``db.choose``
picks one from the connection and the ``driver`` setting. Nothing here imports
a driver: a link loads its own when it first connects.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from foundry_dsl.errors import redact

if TYPE_CHECKING:
    import pyarrow as pa

    from foundry_dsl.sources.sql.dialect import Shape
    from foundry_dsl.sources.sql.query import Filter


class Unusable(Exception):
    """The link cannot serve this connection: its driver package is not installed, or the
    connection is not one it can take. The message says what to do."""


@dataclass
class Rows:
    """A running read: the schema the batches have (also when there are none), and them.
    Iterating to the end, or closing the iterator, releases the connection."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]

    def close(self) -> None:
        """Stop reading: the connection is released now, not when the iterator is collected."""
        close = getattr(self.batches, "close", None)
        if close is not None:
            close()


@dataclass(frozen=True)
class Failure:
    """A driver error as ``db`` reports it."""

    text: str  # the driver's message, on one line
    connect: bool  # the database could not be reached (or refused the login)
    hint: str | None = None  # a link-specific next step, when the usual ones do not fit


class Link(ABC):
    """One way to read a query's rows: the connection the user wrote, and a driver."""

    #: the ``driver`` setting that picks this link
    name: ClassVar[str]
    #: the reader's buffers need the widest text value measured first (ODBC)
    measures_text: ClassVar[bool]

    def __init__(self, written: str, batch_size: int) -> None:
        self.written = written  # as the environment gave it: shown (redacted) in messages
        self.batch_size = batch_size

    @abstractmethod
    def connect(self) -> Any:
        """A DB-API connection in autocommit mode for describing and aggregates; the caller closes it."""

    @abstractmethod
    def describe(self, conn: Any, sql: str) -> Shape:
        """The query's columns, the projection that reads each exactly, the parameter casts."""

    @abstractmethod
    def one_row(self, conn: Any, columns: list[str], sql: str, where: Filter) -> list[Any]:
        """``SELECT <columns> FROM (<sql>) q <where>``: its one row, values as Python objects."""

    @abstractmethod
    def read(self, sql: str, shape: Shape, where: Filter, text_size: int) -> Rows:
        """The rows of ``sql`` filtered by ``where``, streamed on a connection of their own,
        in batches of at most ``batch_size`` rows."""

    @abstractmethod
    def failure(self, exc: BaseException) -> Failure | None:
        """``exc`` as a :class:`Failure`, or None when it is not the driver's."""

    @abstractmethod
    def shown(self) -> str:
        """The connection as messages show it, secrets as ``***``."""

    @abstractmethod
    def secrets(self) -> list[str]:
        """The connection and every secret value in it, for redaction."""

    def scrub(self, text: str) -> str:
        """``text`` without any secret of the connection (the connection itself shown redacted)."""
        for whole in self.secrets()[:1]:
            text = text.replace(whole, self.shown())
        return redact(text, self.secrets()[1:])
