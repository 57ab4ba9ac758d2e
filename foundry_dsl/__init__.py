"""foundry: declarative landing of raw data into the Bronze layer of a lakehouse.

Use it from Python::

    import datetime, foundry_dsl

    plan = foundry_dsl.load(["pipelines/demo.bronze"]).plan(date=datetime.date(2025, 1, 12))
    result = foundry_dsl.apply(plan)
    assert result.exit_code == 0

Every name in ``__all__`` is loaded on first use (PEP 562), so ``import
foundry_dsl`` and ``foundry --help`` import nothing heavy. Type checkers read the
names from ``__init__.pyi``, not from an ``if TYPE_CHECKING:`` block here: that
block would count as an import of ``foundry_dsl.api`` by the package root, which
``foundry_dsl.executor.metadata`` imports for ``__version__``, and break the
layers contract (docs/architecture.md).
"""

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "Estimate",
    "Executor",
    "ExtractContext",
    "Extractor",
    "FoundryError",
    "NewCursor",
    "Plan",
    "PlanError",
    "Project",
    "RunResult",
    "StorageBackend",
    "__version__",
    "apply",
    "load",
]

# each lazily loaded name → the module that defines it
_EXPORTS = {
    "ConfigError": "foundry_dsl.errors",
    "Estimate": "foundry_dsl.sources.base",
    "Executor": "foundry_dsl.executor.base",
    "ExtractContext": "foundry_dsl.sources.base",
    "Extractor": "foundry_dsl.sources.base",
    "FoundryError": "foundry_dsl.errors",
    "NewCursor": "foundry_dsl.sources.base",
    "Plan": "foundry_dsl.planner.plan",
    "PlanError": "foundry_dsl.errors",
    "Project": "foundry_dsl.api",
    "RunResult": "foundry_dsl.executor.base",
    "StorageBackend": "foundry_dsl.storage.base",
    "apply": "foundry_dsl.api",
    "load": "foundry_dsl.api",
}


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'foundry_dsl' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return list(__all__)
