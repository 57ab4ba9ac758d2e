"""A custom storage backend for tests: a dict, loaded by dotted path or entry point."""

from __future__ import annotations

from typing import Any

from foundry_dsl.storage.base import StorageBackend


class MemoryBackend(StorageBackend):
    def __init__(self, root: str, options: dict[str, Any]) -> None:
        self.root_url = f"memory://{root}"
        self.options = options
        self.files: dict[str, bytes] = {}

    def upload_file(self, local_path: str, remote_path: str) -> None:
        with open(local_path, "rb") as fh:
            self.files[remote_path] = fh.read()

    def download_file(self, remote_path: str, local_path: str) -> None:
        with open(local_path, "wb") as fh:
            fh.write(self.files[remote_path])

    def list_files(self, prefix: str) -> list[str]:
        return sorted(p for p in self.files if p.startswith(prefix.rstrip("/") + "/"))

    def delete_file(self, remote_path: str) -> None:
        self.files.pop(remote_path, None)

    def get_backend_type(self) -> str:
        return "memory"

    def exists(self, path: str) -> bool:
        return path in self.files

    def read_bytes(self, path: str) -> bytes | None:
        return self.files.get(path)

    def write_bytes(self, path: str, data: bytes) -> None:
        self.files[path] = data


class NotABackend:
    def __init__(self, root: str, options: dict[str, Any]) -> None:
        pass


class SharedMemoryBackend(MemoryBackend):
    """A MemoryBackend whose files outlive the instance (one dict per root), so a test can
    look at what a run committed. Like many custom backends, it has no conditional writes."""

    STORES: dict[str, dict[str, bytes]] = {}

    def __init__(self, root: str, options: dict[str, Any]) -> None:
        super().__init__(root, options)
        self.files = self.STORES.setdefault(root, {})
