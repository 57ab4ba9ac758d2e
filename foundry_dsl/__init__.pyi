# What type checkers see of foundry_dsl: the names __init__.py loads lazily, with
# their types. Keep in step with __all__ and _EXPORTS there (tests/test_public_api.py).
from foundry_dsl.api import Project as Project
from foundry_dsl.api import apply as apply
from foundry_dsl.api import load as load
from foundry_dsl.errors import ConfigError as ConfigError
from foundry_dsl.errors import FoundryError as FoundryError
from foundry_dsl.errors import PlanError as PlanError
from foundry_dsl.executor.base import Executor as Executor
from foundry_dsl.executor.base import RunResult as RunResult
from foundry_dsl.planner.plan import Plan as Plan
from foundry_dsl.sources.base import Estimate as Estimate
from foundry_dsl.sources.base import ExtractContext as ExtractContext
from foundry_dsl.sources.base import Extractor as Extractor
from foundry_dsl.sources.base import NewCursor as NewCursor
from foundry_dsl.storage.base import StorageBackend as StorageBackend

__version__: str

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

def __dir__() -> list[str]: ...
