"""The storage interface, as in the original tool, plus what commits need.

Paths given to a backend are relative to its root (``root_url``), with ``/``
separators: ``system=a/table=b/dt=2025-01-12/part-0001.parquet``. Backends
never see secrets in their paths, and their errors never contain them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


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
