"""Storage layer: conditional writes, the interface each object store implements.

Leases (``lease_object.py``) need four calls whose precondition the store itself
checks, atomically with the write: create only if absent, read with a version
token, replace only at a version, delete only at a version. Each store names
them differently (S3 and Azure: ``If-None-Match`` / ``If-Match`` on the ETag; GCS:
``ifGenerationMatch`` on the generation), so each has a
:class:`ConditionalWrites` of its own in ``s3.py``, ``azure.py`` and ``gcs.py``,
found through the registry. :class:`~foundry_dsl.storage.fsspec_backend.FsspecBackend`
wraps them in its retry and error boundary.

What every store agrees on is here too: a precondition that does not hold is an
answer, not an error, and :func:`unless_refused` turns the store's way of saying
so into that answer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


class ConditionalWrites(ABC):
    """One store's conditional calls on an fsspec filesystem, by bucket (or container) and key.

    Version tokens are opaque strings (an ETag, a GCS generation). Refusals may be
    raised in the store's own way: the caller turns them into answers.
    """

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    def require(self, op: str) -> None:
        """Raise before any call when this client cannot send ``op``'s condition.

        ``op`` is ``create``, ``replace`` or ``delete``. A client that drops a
        condition it does not know would make the write unconditional without a word;
        by default the client is trusted to send every condition.
        """
        return None

    @abstractmethod
    def create(self, bucket: str, key: str, data: bytes) -> str:
        """Write only if absent; the new version."""

    @abstractmethod
    def read(self, bucket: str, key: str) -> tuple[bytes, str]:
        """The content and its version, of one object version; FileNotFoundError when absent."""

    @abstractmethod
    def replace(self, bucket: str, key: str, data: bytes, version: str) -> str:
        """Write only if still at ``version``; the new version."""

    @abstractmethod
    def delete(self, bucket: str, key: str, version: str) -> None:
        """Delete only if still at ``version``."""

    def sync(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one coroutine function on the filesystem's own event loop (s3fs, adlfs, gcsfs)."""
        from fsspec.asyn import sync

        return sync(self.fs.loop, fn, *args, **kwargs)


#: error codes that mean "the precondition did not hold", whatever the store
REFUSED_CODES = frozenset(
    {
        "PreconditionFailed",  # S3 412
        "ConditionalRequestConflict",  # S3 409: a concurrent conditional write to the key
        "BlobAlreadyExists",  # Azure 409 for If-None-Match: *
        "ConditionNotMet",  # Azure 412
    }
)


def _codes(exc: BaseException) -> Iterable[tuple[int | None, str | None]]:
    """(HTTP status, error code) of each exception in the cause chain."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        response = getattr(cur, "response", None)
        status: int | None = None
        code: Any = None
        if isinstance(response, dict):  # botocore ClientError
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = response.get("Error", {}).get("Code")
        else:  # azure-core HttpResponseError
            status = getattr(cur, "status_code", None)
            code = getattr(cur, "error_code", None)
        code = getattr(code, "value", code)  # azure's StorageErrorCode is an enum
        yield (status if isinstance(status, int) else None, str(code) if code else None)
        cur = cur.__cause__ or cur.__context__


def refused(exc: BaseException) -> bool:
    """True when ``exc`` is a store saying "precondition failed", not a failure."""
    if isinstance(exc, FileExistsError):  # s3fs (If-None-Match) and gcsfs (any 412) say so
        return True
    return any(status == 412 or code in REFUSED_CODES for status, code in _codes(exc))


def missing(exc: BaseException) -> bool:
    """True when ``exc`` is a store saying "no such object"."""
    if isinstance(exc, FileNotFoundError):
        return True
    return any(status == 404 for status, _code in _codes(exc))


def unless_refused(fn: Callable[[], T], answer: T, *, gone: bool) -> Callable[[], T]:
    """``fn`` with a refused precondition (and, when ``gone``, a missing object) as ``answer``."""

    def run() -> T:
        try:
            return fn()
        except Exception as exc:
            if refused(exc) or (gone and missing(exc)):
                return answer
            raise

    return run
