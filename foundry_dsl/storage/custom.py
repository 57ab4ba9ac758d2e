"""Storage layer: the custom kind, a user's own :class:`StorageBackend` class.

The class is named in the storage block by dotted path (``pkg.mod:Class`` or
``pkg.mod.Class``) or by the name of an entry point in the ``foundry.storage``
group, which is how third-party packages bring backends in; it is called as
``cls(root=..., options=...)`` with ``env(...)`` options resolved.
"""

from __future__ import annotations

import importlib
from importlib import metadata as importlib_metadata

from foundry_dsl import ir
from foundry_dsl.errors import ConfigError
from foundry_dsl.storage.base import StorageBackend

ENTRY_POINT_GROUP = "foundry.storage"


def root_url(s: ir.CustomStorage) -> str:
    return f"{s.backend}:{s.root}" if s.root else s.backend


def build(s: ir.CustomStorage, context: str = "") -> StorageBackend:
    """``cls(root=..., options=...)`` for a dotted class path or a ``foundry.storage`` entry point."""
    cls = _load_backend_class(s)
    options = {k: (v.resolve() if isinstance(v, ir.EnvRef) else v) for k, v in s.options.items()}
    backend = cls(root=s.root, options=options)
    if not isinstance(backend, StorageBackend):
        raise ConfigError.single(
            f"storage backend '{s.backend}' is not a StorageBackend",
            s.span,
            help="subclass foundry_dsl.storage.base.StorageBackend",
        )
    return backend


def _load_backend_class(s: ir.CustomStorage) -> type:
    name = s.backend
    for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            loaded = ep.load()
            if isinstance(loaded, type):
                return loaded
    module_name, sep, attr = name.partition(":")
    if not sep:
        module_name, _, attr = name.rpartition(".")
    if module_name and attr:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError.single(
                f"cannot import storage backend module '{module_name}': {exc}",
                s.span,
                help="check the module is installed or on PYTHONPATH",
            ) from None
        cls = getattr(module, attr, None)
        if isinstance(cls, type):
            return cls
    names = sorted(ep.name for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP))
    known = f"; installed entry points: {', '.join(names)}" if names else ""
    raise ConfigError.single(
        f"unknown storage backend '{name}'",
        s.span,
        help=f"give 'package.module:Class' or a '{ENTRY_POINT_GROUP}' entry point name{known}",
    )
