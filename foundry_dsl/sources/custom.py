"""Sources: ``custom`` — a Python class of the user's, old style or streaming.

The module is found in the pipeline file's folder, then in the current
directory where the plan was made (the original tool's layout:
``bronze-extract --config configs/x.yaml`` with ``examples/...`` beside
``configs/``), then in foundry's ``stdlib/``, then on the Python path. The
class is constructed without arguments and called through one of two
interfaces:

* foundry's streaming one: ``extract(self, ctx)`` yields batches (lists of
  dicts, Arrow record batches or tables) and optionally a final
  :class:`~foundry_dsl.sources.base.NewCursor`; parameters are in
  ``ctx.pipeline.source.params``. A subclass of
  :class:`~foundry_dsl.sources.base.Extractor` is constructed with the source
  and used as is: its ``prepare`` runs once per run (its result reaches every
  part as ``ctx.prepared``), then ``parts``, ``extract`` per part,
  ``merge_cursors``; its ``report`` lands in the run's metadata, and
  ``plan --estimate`` asks its ``estimate``/``estimate_live`` (a plain plan
  never imports user code).
* the original tool's: ``fetch_records(cfg, run_date) -> (records, new_cursor)``
  with ``cfg`` shaped as its YAML. Such classes work unchanged, including the
  literal ``from extractors.base import BaseExtractor``: while the module is
  imported, ``extractors`` is an alias of :mod:`foundry_dsl.extractors` unless a
  real ``extractors`` package is importable.

Whatever the user's code raises becomes an :class:`ExtractError` naming the
pipeline, the class and the user's line that failed. Batches are handed on
to the executor as they come.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import logging
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from foundry_dsl import ir
from foundry_dsl.errors import Diagnostic, ExtractError, FoundryError, did_you_mean
from foundry_dsl.sources.base import (
    Batch,
    Estimate,
    ExtractContext,
    Extractor,
    NewCursor,
)

log = logging.getLogger(__name__)

#: records of an old-style extractor are handed on in slices of this many
RECORDS_PER_BATCH = 50_000
#: ... and of about this many bytes once converted to Arrow, so wide records make short slices
RECORDS_BYTES = 8 * 2**20
_MEASURE_EVERY = 16  # records of a stream: one in this many is measured

_import_lock = threading.RLock()
_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)
#: the original YAML's names for storage fields, where they differ
_SPEC_NAMES = {
    ("s3", "bucket"): "s3_bucket",
    ("s3", "prefix"): "s3_prefix",
    ("custom", "root"): "custom_root",
}
_ALIASES = {"extractors": "foundry_dsl.extractors", "extractors.base": "foundry_dsl.extractors.base"}


class _CompatFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``extractors`` and ``extractors.base`` → foundry's compat package.

    Installed only while a user module is imported, and it answers only when no
    real ``extractors`` package can be found, so a user's own package wins.
    """

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: Any = None) -> Any:
        if fullname not in _ALIASES:
            return None
        if fullname == "extractors" and importlib.machinery.PathFinder.find_spec(fullname) is not None:
            return None
        if fullname == "extractors.base" and sys.modules.get("extractors") is not sys.modules.get(
            "foundry_dsl.extractors"
        ):
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=fullname == "extractors")

    def create_module(self, spec: Any) -> ModuleType:
        return importlib.import_module(_ALIASES[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        return None  # the real module is already executed


def search_roots(base_dir: Path, work_dir: Path | None = None) -> list[Path]:
    """The folders a custom module is looked for in, in order, before the Python path:
    the pipeline file's, the current directory where the plan was made, stdlib/."""
    from foundry_dsl.resources import stdlib_dir

    roots = [Path(base_dir)]
    if work_dir is not None and Path(work_dir).resolve() != Path(base_dir).resolve():
        roots.append(Path(work_dir))
    return [*roots, stdlib_dir()]


def import_user_module(module: str, base_dir: Path, work_dir: Path | None = None) -> ModuleType:
    """Import ``module`` from the pipeline's folder, the plan's current directory,
    stdlib/, or the Python path."""
    from foundry_dsl.sources.custom_check import file_under, module_root

    top = module.split(".")[0]
    root = module_root(top, search_roots(base_dir, work_dir))
    finder = _CompatFinder()
    with _import_lock:
        if root is not None:
            cached = sys.modules.get(top)
            if cached is not None and not file_under(getattr(cached, "__file__", None), root):
                # a module of the same name from another pipeline's folder
                for name in [n for n in sys.modules if n == top or n.startswith(top + ".")]:
                    del sys.modules[name]
            sys.path.insert(0, str(root))
        sys.meta_path.insert(0, finder)
        try:
            return importlib.import_module(module)
        finally:
            sys.meta_path.remove(finder)
            if root is not None:
                sys.path.remove(str(root))


def _last_user_frame(exc: BaseException, user_dir: str | None = None) -> str:
    """``file:line in function`` of the deepest frame in the user's code."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if user_dir and f.filename.startswith(user_dir)]
    if not user:
        user = [
            f for f in frames
            if not f.filename.startswith(_PACKAGE_DIR) or "_stdlib" in f.filename
        ]
    if not user:
        return ""
    f = user[-1]
    return f"{f.filename}:{f.lineno} in {f.name}"


def spec_config(pipeline: ir.Pipeline) -> dict[str, Any]:
    """The original tool's ``cfg``: what ``fetch_records`` reads.

    Secrets stay names: a storage secret is given as ``<field>_env`` like the
    original YAML wrote it; only the extractor's own params are resolved.
    """
    source = pipeline.source
    assert isinstance(source, ir.CustomSource)
    run = pipeline.run
    platform = pipeline.platform
    kind = platform.storage.kind
    backend = platform.storage.backend if isinstance(platform.storage, ir.CustomStorage) else kind
    storage: dict[str, Any] = {"storage_backend": backend}
    for name, value in platform.storage:
        if name in ("kind", "span", "backend") or value is None:
            continue
        if isinstance(value, ir.EnvRef):
            storage[f"{name}_env"] = value.name
        elif not isinstance(value, dict):
            storage[_SPEC_NAMES.get((platform.storage.kind, name), name)] = value
    size_mb = run.max_file_size / 2**20
    return {
        "platform": {
            "bronze": {
                **storage,
                "partitioning": {
                    "use_dt_partition": platform.use_dt_partition,
                    "partition_strategy": platform.partition,
                },
                "output_defaults": {
                    "allow_csv": "csv" in platform.formats,
                    "allow_parquet": "parquet" in platform.formats,
                    "parquet_compression": platform.compression,
                },
            }
        },
        "source": {
            "type": "custom",
            "system": pipeline.system,
            "table": pipeline.table,
            "custom_extractor": {
                "module": source.module,
                "class_name": source.class_name,
                "params": resolve_params(source.params),
            },
            "run": {
                "max_rows_per_file": run.max_rows_per_file,
                "max_file_size_mb": int(size_mb) if size_mb.is_integer() else size_mb,
                "parallel_workers": run.workers,
                "write_csv": "csv" in run.formats,
                "write_parquet": "parquet" in run.formats,
                "storage_enabled": run.storage_enabled,
                "local_output_dir": run.local_output_dir,
                "cleanup_on_failure": run.cleanup_on_failure,
                **({"batch_id": run.batch_id} if run.batch_id else {}),
            },
        },
    }


def resolve_params(value: Any) -> Any:
    """``params`` with every ``env("NAME")`` read from the environment."""
    if isinstance(value, ir.EnvRef):
        return value.resolve()
    if isinstance(value, dict):
        return {k: resolve_params(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve_params(v) for v in value]
    return value


def _env_refs(value: Any) -> Iterator[ir.EnvRef]:
    if isinstance(value, ir.EnvRef):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _env_refs(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _env_refs(v)


class CustomExtractor(Extractor):
    source: ir.CustomSource

    @classmethod
    def describe(cls, source: ir.CustomSource) -> str:
        return f"custom {source.module}.{source.class_name}"

    @classmethod
    def planned_parts(cls, source: ir.CustomSource) -> int | None:
        return None  # the class may split itself, and planning never imports user code

    @classmethod
    def keeps_cursor(cls, source: ir.CustomSource) -> bool | None:
        return None  # a class says so by storing cursors

    @classmethod
    def preflight(
        cls, source: ir.CustomSource, base_dir: Path, work_dir: Path | None = None
    ) -> list[Diagnostic]:
        """The module and class looked for by reading files, never importing them."""
        from foundry_dsl.sources.custom_check import check

        return check(source, search_roots(base_dir, work_dir))

    def __init__(self, source: ir.CustomSource) -> None:
        super().__init__(source)
        self._instance: Any = None
        self._module_dir: str | None = None
        self._pipeline = ""  # for errors raised where no context is given (merge_cursors)

    @property
    def _what(self) -> str:
        return f"custom extractor {self.source.module}.{self.source.class_name}"

    def _fail(self, ctx: ExtractContext | None, exc: BaseException, doing: str) -> ExtractError:
        where = _last_user_frame(exc, self._module_dir)
        at = f" at {where}" if where else ""
        name = ctx.pipeline.name if ctx is not None else self._pipeline
        return ExtractError(
            f"{name}: {self._what} {doing}: {type(exc).__name__}: {exc}{at}; "
            "fix the extractor (run with --debug for the full traceback)"
        )

    def _call(self, ctx: ExtractContext | None, method: str, *args: Any) -> Any:
        """The user's ``method(*args)``; what it raises becomes an ExtractError."""
        try:
            return getattr(self._instance, method)(*args)
        except FoundryError:
            raise
        except Exception as exc:
            raise self._fail(ctx, exc, f"failed in {method}()") from exc

    def load(self, ctx: ExtractContext) -> Any:
        """The user's class, instantiated; imported on first use."""
        if self._instance is not None:
            return self._instance
        src = self.source
        self._pipeline = ctx.pipeline.name
        try:
            module = import_user_module(src.module, ctx.base_dir, ctx.work_dir)
        except ModuleNotFoundError as exc:
            if exc.name and src.module.startswith(exc.name):
                folders = ", ".join(str(r) for r in search_roots(ctx.base_dir, ctx.work_dir)[:-1])
                raise ExtractError(
                    f"{ctx.pipeline.name}: cannot find module '{src.module}' for the custom "
                    f"source (looked in {folders}, foundry's stdlib/ and the Python path)"
                ) from exc
            raise self._fail(ctx, exc, "could not be imported") from exc
        except Exception as exc:
            raise self._fail(ctx, exc, "could not be imported") from exc
        module_file = getattr(module, "__file__", None)
        self._module_dir = str(Path(module_file).resolve().parent) if module_file else None
        cls = getattr(module, src.class_name, None)
        if not isinstance(cls, type):
            names = [n for n, v in vars(module).items() if isinstance(v, type)]
            hint = did_you_mean(src.class_name, names)
            raise ExtractError(
                f"{ctx.pipeline.name}: module '{src.module}' has no class '{src.class_name}'"
                + (f"; {hint}" if hint else "")
            )
        try:
            if issubclass(cls, Extractor):
                self._instance = cls(src)
            else:
                self._instance = cls()
        except Exception as exc:
            raise self._fail(ctx, exc, "could not be constructed") from exc
        if not (hasattr(self._instance, "extract") or hasattr(self._instance, "fetch_records")):
            raise ExtractError(
                f"{ctx.pipeline.name}: {self._what} has neither extract(ctx) nor "
                "fetch_records(cfg, run_date); implement one of them"
            )
        report = getattr(self._instance, "report", None)
        if isinstance(self._instance, Extractor) and isinstance(report, dict):
            # the very dict the user's class fills (an __init__ that skips super() has
            # none): the executor reads ours after the run
            self.report = report
        return self._instance

    def prepare(self, ctx: ExtractContext) -> Any:
        """The user's ``prepare`` (once per run); imports the class."""
        if not isinstance(self.load(ctx), Extractor):
            return None
        return self._call(ctx, "prepare", ctx)

    def parts(self, ctx: ExtractContext) -> int:
        if not isinstance(self.load(ctx), Extractor):
            return 1
        count = self._call(ctx, "parts", ctx)
        if isinstance(count, bool) or not isinstance(count, int):
            raise ExtractError(
                f"{ctx.pipeline.name}: {self._what}.parts returned {type(count).__name__}; "
                "it must return the number of parts, an int of at least 1"
            )
        return count

    def estimate(self, ctx: ExtractContext) -> Estimate | None:
        # a plain plan never imports user code (importing it could contact the source);
        # once the class is loaded for a run, it may say what it knows
        if not isinstance(self._instance, Extractor):
            return None
        return self._estimate(ctx, "estimate")

    def estimate_live(self, ctx: ExtractContext) -> Estimate | None:
        """``plan --estimate``: import the class and ask it, live first."""
        if not isinstance(self.load(ctx), Extractor):
            return None
        return self._estimate(ctx, "estimate_live") or self._estimate(ctx, "estimate")

    def _estimate(self, ctx: ExtractContext, method: str) -> Estimate | None:
        found = self._call(ctx, method, ctx)
        if found is not None and not isinstance(found, Estimate):
            raise ExtractError(
                f"{ctx.pipeline.name}: {self._what}.{method} returned {type(found).__name__}; "
                "it must return an Estimate or None"
            )
        return found

    def merge_cursors(self, cursors: Sequence[str | None]) -> str | None:
        if isinstance(self._instance, Extractor):
            merged = self._call(None, "merge_cursors", cursors)
            return None if merged is None else str(merged)
        return super().merge_cursors(cursors)

    def secrets(self) -> list[str]:
        values: list[object] = [ref.resolve(required=False) for ref in _env_refs(self.source.params)]
        if isinstance(self._instance, Extractor):
            # a secret the extractor holds itself (read from a vault) is redacted too
            try:
                values.extend(self._instance.secrets() or [])
            except Exception:  # listing secrets is no place to fail a run
                log.warning("%s: secrets() failed; only env() params are redacted", self._what)
        return [v for v in values if isinstance(v, str) and v]

    def extract(self, ctx: ExtractContext, part: int = 0) -> Iterator[Batch | NewCursor]:
        inst = self.load(ctx)
        if isinstance(inst, Extractor):
            yield from self._guard(ctx, lambda: inst.extract(ctx, part))
        elif hasattr(inst, "extract"):
            yield from self._guard(ctx, lambda: inst.extract(ctx))
        else:
            yield from self._old_style(ctx, inst)

    def _guard(self, ctx: ExtractContext, start: Any) -> Iterator[Batch | NewCursor]:
        """Items of the user's iterator; its exceptions become ExtractErrors."""
        try:
            it = iter(start())
        except FoundryError:
            raise
        except Exception as exc:
            raise self._fail(ctx, exc, "failed") from exc
        while True:
            try:
                item = next(it)
            except StopIteration:
                return
            except FoundryError:
                raise
            except Exception as exc:
                raise self._fail(ctx, exc, "failed") from exc
            if isinstance(item, str | type(None)) or not _is_batch(item):
                raise ExtractError(
                    f"{ctx.pipeline.name}: {self._what} yielded {type(item).__name__}; yield "
                    "lists of dicts, pyarrow RecordBatches or Tables, and at most one NewCursor"
                )
            yield item

    def _old_style(self, ctx: ExtractContext, inst: Any) -> Iterator[Batch | NewCursor]:
        cfg = spec_config(ctx.pipeline)
        try:
            result = inst.fetch_records(cfg, ctx.run_date)
        except FoundryError:
            raise
        except Exception as exc:
            raise self._fail(ctx, exc, "failed") from exc
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ExtractError(
                f"{ctx.pipeline.name}: {self._what}.fetch_records returned "
                f"{type(result).__name__}; it must return (records, new_cursor)"
            )
        records, new_cursor = result
        yield from _slices(records or [])
        yield NewCursor(None if new_cursor is None else str(new_cursor))


def _is_batch(item: Any) -> bool:
    if isinstance(item, (list, NewCursor)):
        return True
    import pyarrow as pa

    return isinstance(item, (pa.RecordBatch, pa.Table))


def _slices(records: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Records in slices of at most ``RECORDS_PER_BATCH`` and about ``RECORDS_BYTES``."""
    from foundry_dsl.write.convert import estimate_bytes, value_bytes

    if isinstance(records, list):
        per = estimate_bytes(records) / max(1, len(records))
        step = max(1, min(RECORDS_PER_BATCH, int(RECORDS_BYTES / per) if per else RECORDS_PER_BATCH))
        for i in range(0, len(records), step):
            yield records[i : i + step]
        return
    chunk: list[dict[str, Any]] = []
    size = 0
    for r in records:
        if len(chunk) % _MEASURE_EVERY == 0:
            size += _MEASURE_EVERY * value_bytes(r)
        chunk.append(r)
        if len(chunk) >= RECORDS_PER_BATCH or size >= RECORDS_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk
