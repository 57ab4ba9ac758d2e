"""Sources: is a custom source's class there? Found by reading files, never by importing.

``plan`` and ``validate`` must not run user code (importing a module may contact
the source), yet a module that is not there, or a class it does not define,
makes a run fail at once. So this module looks for the module where the import
would (the folders ``custom.search_roots`` gives, then the Python path,
through the finders' specs, which execute nothing) and reads its top-level
names with :mod:`ast`. When a module could bind names that reading cannot
see (``from x import *``, a module ``__getattr__``, ``globals()``), the class
is not checked. Hands back :class:`~foundry_dsl.errors.Diagnostic` values
positioned at the ``module`` or ``class_name`` setting.
"""

from __future__ import annotations

import ast
import importlib.machinery
import importlib.util
import sys
from pathlib import Path

from foundry_dsl import ir
from foundry_dsl.errors import Diagnostic, did_you_mean

#: module names the custom source answers itself (the original tool's base class)
_COMPAT = ("extractors",)


class _Unknown(Exception):
    """The module exists but cannot be read here (compiled, frozen, built in)."""


def check(source: ir.CustomSource, roots: list[Path]) -> list[Diagnostic]:
    """Problems with ``source.module`` / ``source.class_name``, as errors. ``roots``: the
    folders the import looks in before the Python path, stdlib/ last."""
    module = source.module
    top = module.split(".")[0]
    if top in _COMPAT or not all(part.isidentifier() for part in module.split(".")):
        return []  # not a name the check can follow; the run says what is wrong
    loaded = sys.modules.get(module)
    try:
        if loaded is not None:
            names: set[str] | None = set(vars(loaded))
            origin = getattr(loaded, "__file__", None)
        else:
            origin = _find(module, roots, source)
            if isinstance(origin, Diagnostic):
                return [origin]
            names = _top_level_names(Path(origin)) if origin else None
    except SyntaxError as exc:
        return [Diagnostic(
            f"the custom source's module '{module}' is not valid Python: {exc.msg} "
            f"({_shown(Path(exc.filename or ''))}, line {exc.lineno})",
            source.span_of("module"),
            "fix the module; a run would fail as it imports it",
            code="E062",
        )]
    except _Unknown:
        return []
    if names is None or source.class_name in names:
        return []
    classes = sorted(n for n in names if n[:1].isupper())
    hint = did_you_mean(source.class_name, classes)
    where = f" ({_shown(Path(origin))})" if origin else ""
    return [Diagnostic(
        f"module '{module}'{where} defines no class '{source.class_name}'",
        source.span_of("class_name"),
        hint or (f"it defines: {', '.join(classes)}" if classes else "define the class in it"),
        code="E061",
    )]


def _find(module: str, roots: list[Path], source: ir.CustomSource) -> str | Diagnostic | None:
    """The module's file (None: a namespace package), or the diagnostic saying it is not
    there. Raises _Unknown for a module that exists but is not Python source."""
    parts = module.split(".")
    root = next((r for r in roots if (r / f"{parts[0]}.py").is_file() or (r / parts[0]).is_dir()), None)
    if root is not None:
        # the import puts this folder first: the whole dotted path must be under it
        return _under(root, parts, module, source)
    spec = _path_spec(parts)
    if spec is None:
        folders = ", ".join(_shown(r) for r in roots[:-1])
        candidates = [p.stem for r in roots for p in _entries(r)]
        hint = did_you_mean(parts[0], candidates) if len(parts) == 1 else None
        return Diagnostic(
            f"cannot find module '{module}' for the custom source (looked in {folders}, "
            "foundry's stdlib/ and the Python path)",
            source.span_of("module"),
            hint or f"put {parts[0]}.py or the package {parts[0]}/ beside the pipeline "
            "file, or install it",
            code="E060",
        )
    if spec.origin in (None, "namespace") and spec.submodule_search_locations is not None:
        return None
    if not spec.origin or not spec.origin.endswith(".py"):
        raise _Unknown(module)
    return spec.origin


def _under(
    root: Path, parts: list[str], module: str, source: ir.CustomSource
) -> str | Diagnostic | None:
    folder = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if (folder / f"{part}.py").is_file() and last:
            return str(folder / f"{part}.py")
        if (folder / part).is_dir():
            folder = folder / part
            if last:
                init = folder / "__init__.py"
                return str(init) if init.is_file() else None
            continue
        hint = did_you_mean(part, [p.stem for p in _entries(folder)])
        return Diagnostic(
            f"cannot find module '{module}' for the custom source: "
            f"{_shown(folder)} has no {part}.py and no {part}/ package",
            source.span_of("module"),
            hint or f"create {_shown(folder / part)}.py, or correct the module name",
            code="E060",
        )
    return None  # pragma: no cover - the loop returns on its last part


def _path_spec(parts: list[str]) -> importlib.machinery.ModuleSpec | None:
    """The spec the Python path gives the module, found without importing anything:
    a top-level name through every finder, a submodule through its parent's folders."""
    if parts[0] in sys.builtin_module_names:
        raise _Unknown(parts[0])
    try:
        spec = importlib.util.find_spec(parts[0])  # a top-level name imports nothing
    except (ImportError, ValueError):
        return None
    for i in range(1, len(parts)):
        if spec is None or spec.submodule_search_locations is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(
            ".".join(parts[: i + 1]), list(spec.submodule_search_locations)
        )
    return spec


def _entries(folder: Path) -> list[Path]:
    """Modules and packages in ``folder``, for did-you-mean."""
    try:
        return [
            p for p in folder.iterdir()
            if (p.suffix == ".py" or p.is_dir()) and p.stem.isidentifier()
        ]
    except OSError:
        return []


def _top_level_names(path: Path) -> set[str] | None:
    """Names the module binds at its top level; None when it may bind others unseen."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise _Unknown(str(path)) from None
    tree = ast.parse(text, filename=str(path))
    names: set[str] = set()
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name == "__getattr__":
                return None
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for field in ("body", "orelse", "finalbody"):
                stack.extend(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                stack.extend(handler.body)
        for sub in ast.walk(node) if not isinstance(node, ast.ClassDef) else ():
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                names.add(sub.id)
            elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in (
                "globals", "setattr", "exec", "vars",
            ):
                return None
    return names


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when inside it, else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except (ValueError, OSError):
        return str(path)
