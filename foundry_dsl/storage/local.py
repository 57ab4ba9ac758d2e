"""Storage layer: the local-disk kind, an :class:`FsspecBackend` on fsspec's local filesystem.

Local disk has no conditional writes: its leases are OS locks (``lease_local.py``)
and its commits swap folders (``commit.py``), both found through the backend's
``local_root``.
"""

from __future__ import annotations

import os

from foundry_dsl import ir
from foundry_dsl.storage.fsspec_backend import FsspecBackend


def root_url(s: ir.LocalStorage) -> str:
    # as written: a plan shows the path the user gave, not where it resolves today
    return s.path


def build(s: ir.LocalStorage, context: str) -> FsspecBackend:
    return local_backend(s.path, context=context)


def local_backend(path: str, *, context: str = "") -> FsspecBackend:
    """The backend rooted at ``path`` (made absolute), creating folders as files need them."""
    from fsspec.implementations.local import LocalFileSystem

    root = os.path.abspath(path)
    return FsspecBackend(
        LocalFileSystem(auto_mkdir=True), root, backend_type="local", root_url=root, context=context
    )
