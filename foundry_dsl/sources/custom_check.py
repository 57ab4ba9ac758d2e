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
    root = module_root(top, roots)
    loaded = sys.modules.get(module)
    if (loaded is not None and root is not None
            and not file_under(getattr(sys.modules.get(top), "__file__", None), root)):
        # the run's import (import_user_module) drops a same-named module from elsewhere
        # and imports the folder's copy: that copy decides, as it does at run time
        loaded = None
    try:
        if loaded is not None:
            names: set[str] | None = set(vars(loaded))
            origin = getattr(loaded, "__file__", None)
        else:
            origin = _find(module, root, roots, source)
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


def module_root(top: str, roots: list[Path]) -> Path | None:
    """The first of ``roots`` that holds ``top`` (a module or a folder): where both this
    check and the run's import (``custom.import_user_module``) look for it."""
    return next((r for r in roots if (r / f"{top}.py").is_file() or (r / top).is_dir()), None)


def file_under(path: str | None, root: Path) -> bool:
    """Whether ``path`` (an imported module's ``__file__``) lies under ``root``."""
    if not path:
        return False
    try:
        Path(path).resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def _find(
    module: str, root: Path | None, roots: list[Path], source: ir.CustomSource
) -> str | Diagnostic | None:
    """The module's file (None: a namespace package), or the diagnostic saying it is not
    there. Raises _Unknown for a module that exists but is not Python source."""
    parts = module.split(".")
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
        # as Python's path finder: a package, then a module, then a namespace package
        if (folder / part / "__init__.py").is_file():
            folder = folder / part
            if last:
                return str(folder / "__init__.py")
            continue
        if (folder / f"{part}.py").is_file():
            if last:
                return str(folder / f"{part}.py")
            plain = folder / f"{part}.py"
            return Diagnostic(
                f"cannot find module '{module}' for the custom source: "
                f"{_shown(plain)} is a module, not a package, so it has no "
                f"submodule {parts[i + 1]}",
                source.span_of("module"),
                f"name the module '{'.'.join(parts[: i + 1])}', or make {part} a package "
                f"(a folder {_shown(folder / part)}/ holding {parts[i + 1]}.py)",
                code="E060",
            )
        if (folder / part).is_dir():
            folder = folder / part
            if last:
                return None
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
    binder = _Binder()
    binder.visit(ast.parse(text, filename=str(path)))
    return None if binder.unseen else binder.names


class _Binder(ast.NodeVisitor):
    """The names a module's own statements bind (not those of its functions' and classes'
    bodies, nor a comprehension's variables), plus the names a ``global`` statement
    declares; ``unseen`` when the module may bind names reading cannot see."""

    _DYNAMIC = ("globals", "setattr", "exec", "vars")

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.unseen = False
        self._scopes = 0  # inside a function, lambda or class body
        self._classes = 0  # inside a class body (its setattr calls are the instances')
        self._comprehensions = 0

    def _bind(self, name: str | None) -> None:
        if name is not None and not self._scopes and not self._comprehensions:
            self.names.add(name)

    def _scope(self, node: ast.AST, name: str | None = None) -> None:
        self._bind(name)
        self._scopes += 1
        self.generic_visit(node)
        self._scopes -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.name == "__getattr__" and not self._scopes:
            self.unseen = True
        self._scope(node, node.name)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        if node.name == "__getattr__" and not self._scopes:
            self.unseen = True
        self._scope(node, node.name)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._scope(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._classes += 1
        self._scope(node, node.name)
        self._classes -= 1

    def _comprehension(self, node: ast.AST) -> None:
        self._comprehensions += 1
        self.generic_visit(node)
        self._comprehensions -= 1

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        # ``:=`` binds in the enclosing scope, from a comprehension too
        if not self._scopes:
            self.names.add(node.target.id)
        self.visit(node.value)

    def visit_Global(self, node: ast.Global) -> None:
        self.names.update(node.names)  # a function's assignments to these bind them here

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._bind(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.unseen = True
            self._bind(alias.asname or alias.name)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is None:  # ``x: int`` annotates the name without binding it
            self.visit(node.annotation)
            return
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self._bind(node.id)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        self._bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        self._bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self._bind(node.rest)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if (
            not self._classes and isinstance(node.func, ast.Name)
            and node.func.id in self._DYNAMIC
        ):
            self.unseen = True
        self.generic_visit(node)


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when inside it, else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except (ValueError, OSError):
        return str(path)
