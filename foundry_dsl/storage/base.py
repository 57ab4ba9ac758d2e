"""The storage interface, as in the original tool, plus what commits need.

Paths given to a backend are relative to its root (``root_url``), with ``/``
separators: ``system=a/table=b/dt=2025-01-12/part-0001.parquet``. Backends
never see secrets in their paths, and their errors never contain them.

The conditional primitives at the end (``create_if_absent``, ``read_versioned``,
``replace_if``, ``delete_if``) are what leases (``lease.py``) are built on. They
are optional: the defaults raise a :class:`StorageError` that says the backend
cannot hold a lease, so custom backends written before them keep working for
everything else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from foundry_dsl.errors import StorageError


def backend_secrets(backend: StorageBackend) -> list[str]:
    """The secrets a backend resolved (keys, SAS tokens), for redaction; [] when it says none."""
    secrets = getattr(backend, "secrets", None)
    if callable(secrets):
        return list(secrets())
    return list(secrets or [])


class StorageBackend(ABC):
    #: where the backend's root is, for display: ``/abs/output``, ``s3://bucket/prefix``
    root_url: str = ""

    # --- the original tool's interface ---
    @abstractmethod
    def upload_file(self, local_path: str, remote_path: str) -> None: ...

    @abstractmethod
    def download_file(self, remote_path: str, local_path: str) -> None: ...

    @abstractmethod
    def list_files(self, prefix: str) -> list[str]:
        """Every file below ``prefix`` (recursive), relative to the root, sorted."""

    @abstractmethod
    def delete_file(self, remote_path: str) -> None: ...

    @abstractmethod
    def get_backend_type(self) -> str: ...

    # --- what the commit protocol and the state store need ---
    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def read_bytes(self, path: str) -> bytes | None:
        """The file's content, or None when it does not exist."""

    @abstractmethod
    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a whole small file so that readers see the old or the new content."""

    def copy_file(self, source: str, target: str) -> None:
        """Copy a file within the store. A backend with a server-side copy overrides this;
        the default brings the file here and sends it back."""
        import os
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix="foundry-copy-")
        os.close(fd)
        try:
            self.download_file(source, tmp)
            self.upload_file(tmp, target)
        finally:
            os.unlink(tmp)

    # --- what leases need: conditional writes (optional) --------------------------------
    #
    # A version token is opaque (an ETag, a GCS generation). A precondition that does not
    # hold is an answer, not an error: these return None / False for it, and raise
    # StorageError only when the store itself failed.

    def create_if_absent(self, path: str, data: bytes) -> str | None:
        """Write ``data`` only if ``path`` does not exist: its version token, or None when it exists."""
        raise self._cannot_lease("create_if_absent")

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        """The content and its version token, read together; None when ``path`` does not exist."""
        raise self._cannot_lease("read_versioned")

    def replace_if(self, path: str, data: bytes, version: str) -> str | None:
        """Replace ``path`` only if it is still at ``version``: the new token, or None when not."""
        raise self._cannot_lease("replace_if")

    def delete_if(self, path: str, version: str) -> bool:
        """Delete ``path`` only if it is still at ``version``: True when this call deleted it."""
        raise self._cannot_lease("delete_if")

    def _cannot_lease(self, op: str) -> StorageError:
        return StorageError(
            f"this backend cannot hold a lease: the {self.get_backend_type()} backend at "
            f"{self.root_url or '(no root)'} has no conditional writes ({op}); implement "
            "create_if_absent, read_versioned, replace_if and delete_if on it, or make sure "
            "only one run writes each table at a time",
            transient=False,
        )
