"""A storage backend wrapper that records every operation, so tests check order by events."""

from __future__ import annotations

from typing import Any

from foundry_dsl.storage.base import StorageBackend


class RecordingBackend(StorageBackend):
    """Delegates to ``inner`` and appends ``(operation, path)`` to :attr:`ops` first."""

    def __init__(self, inner: StorageBackend) -> None:
        self.inner = inner
        self.root_url = inner.root_url
        self.ops: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Any:  # local_root, lease primitives, ...
        return getattr(self.inner, name)

    def upload_file(self, local_path: str, remote_path: str) -> None:
        self.ops.append(("upload", remote_path))
        self.inner.upload_file(local_path, remote_path)

    def download_file(self, remote_path: str, local_path: str) -> None:
        self.ops.append(("download", remote_path))
        self.inner.download_file(remote_path, local_path)

    def list_files(self, prefix: str) -> list[str]:
        self.ops.append(("list", prefix))
        return self.inner.list_files(prefix)

    def delete_file(self, remote_path: str) -> None:
        self.ops.append(("delete", remote_path))
        self.inner.delete_file(remote_path)

    def get_backend_type(self) -> str:
        return self.inner.get_backend_type()

    def exists(self, path: str) -> bool:
        self.ops.append(("exists", path))
        return self.inner.exists(path)

    def read_bytes(self, path: str) -> bytes | None:
        self.ops.append(("read", path))
        return self.inner.read_bytes(path)

    def write_bytes(self, path: str, data: bytes) -> None:
        # a state entry with an intent in it is told apart: order rules are about it
        self.ops.append(("write", path + (" (pending)" if b'"pending"' in data else "")))
        self.inner.write_bytes(path, data)

    def copy_file(self, source: str, target: str) -> None:
        self.ops.append(("copy", target))
        self.inner.copy_file(source, target)
