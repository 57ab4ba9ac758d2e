"""The `.bronze` front end: syntax trees → positioned values → IR.

It resolves what only the language has: ``import`` (relative to the importing
file, or ``stdlib/...`` from the stdlib that ships with foundry), named
platforms referenced by ``platform = NAME``, and source templates
(``source NAME KIND { ... }`` at top level) that pipelines use as
``source NAME { overrides }``. Overrides merge into the template: an attribute
replaces the template's; a nested block of the same kind merges field by
field; a nested block of another kind (``auth basic`` over ``auth bearer``)
replaces it whole.

Only platforms and templates travel through imports; pipelines run only from
the files named on the command line.
"""

from __future__ import annotations

import copy
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

from foundry_dsl import ir
from foundry_dsl.errors import ConfigError, Position, did_you_mean
from foundry_dsl.frontends.bronze import fast
from foundry_dsl.frontends.bronze import tree as syntax
from foundry_dsl.frontends.lower import Lowering, build_pipeline
from foundry_dsl.frontends.positioned import Env, PList, PMap, PNode, PScalar, Quantity, paused_gc
from foundry_dsl.frontends.read import read_text, unreadable
from foundry_dsl.resources import stdlib_dir
from foundry_dsl.sources.registry import installed_kinds

#: every kind of the IR's source union, in its order: a new kind needs no change here
SOURCE_KINDS = tuple(
    str(m.model_fields["kind"].default) for m in typing.get_args(typing.get_args(ir.Source)[0])
)
TOP_LEVEL = ("import", "platform", "source", "pipeline")
STDLIB_PREFIX = "stdlib/"


@dataclass
class Definition:
    block: syntax.Block
    file: str


@dataclass
class Module:
    """One parsed file and what it can see (its own and imported definitions)."""

    path: str
    file: syntax.File | None
    platforms: dict[str, Definition] = field(default_factory=dict)
    templates: dict[str, Definition] = field(default_factory=dict)
    #: it, or a file it imports, could not be read or parsed: its definitions are
    #: incomplete, so an unknown name is a consequence, not another mistake
    broken: bool = False


class BronzeFrontend:
    """Compiles `.bronze` files, sharing parsed imports across the whole run."""

    def __init__(self, low: Lowering, sources: dict[str, str]) -> None:
        self.low = low
        self.sources = sources  # path → text, for error snippets
        self.modules: dict[str, Module] = {}
        # a platform file imported by every pipeline file is resolved, read, parsed
        # and lowered once per run: paths as resolved, imports as found, and each
        # platform's values (lowered once, ``Lowering.share``)
        self._real: dict[str, str] = {}
        self._imports: dict[tuple[str, str], str] = {}
        self._platforms: dict[int, PMap] = {}

    # --- files and imports -------------------------------------------------------

    def compile_file(self, path: str) -> list[ir.Pipeline]:
        with paused_gc():
            return self._compile_file(path)

    def _compile_file(self, path: str) -> list[ir.Pipeline]:
        module = self.load(path, chain=())
        if module.file is None:
            return []
        pipelines = []
        for item in module.file.items:
            if isinstance(item, syntax.Block) and item.kind == "pipeline":
                p = self.pipeline(item, module)
                if p is not None:
                    pipelines.append(p)
        return pipelines

    def load(self, path: str, chain: tuple[str, ...]) -> Module:
        key = self.real(path)
        if key in self.modules:
            return self.modules[key]
        module = Module(path=path, file=self.parse(path))
        module.broken = module.file is None
        self.modules[key] = module
        if module.file is None:
            return module
        for item in module.file.items:
            if isinstance(item, syntax.Import):
                self.import_into(module, item, (*chain, key))
        for item in module.file.items:
            if isinstance(item, syntax.Block):
                self.define(module, item)
        return module

    def parse(self, path: str) -> syntax.File | None:
        try:
            text = read_text(path)
        except (OSError, UnicodeDecodeError) as exc:
            self.low.diagnostics.append(unreadable(path, exc))
            return None
        self.sources[path] = text
        file = fast.parse(text, path)
        if file is not None:
            return file
        # a mistake somewhere: Lark's parser finds and words every one
        from foundry_dsl.frontends.bronze.parser import parse

        try:
            return parse(text, path)
        except ConfigError as exc:
            self.low.diagnostics.extend(exc.diagnostics)
            return None

    def import_into(self, module: Module, item: syntax.Import, chain: tuple[str, ...]) -> None:
        target = self.resolve_import(module.path, item)
        if target is None:
            module.broken = True
            return
        key = self.real(target)
        if key in chain:
            cycle = [*chain[chain.index(key) :], key]
            self.low.error(
                "import cycle: " + " → ".join(_short(c) for c in cycle),
                item.pos,
                "remove one of these imports; shared definitions can live in a third file",
            )
            return
        imported = self.load(target, chain)
        module.broken |= imported.broken
        for name, d in imported.platforms.items():
            self.add(module.platforms, name, d, "platform")
        for name, d in imported.templates.items():
            self.add(module.templates, name, d, "source template")

    def real(self, path: str) -> str:
        """``path`` resolved (symlinks followed): a module's key. Its folder is resolved
        once for all the files in it; a file that is a link is resolved whole."""
        real = self._real.get(path)
        if real is None:
            folder, name = os.path.split(path)
            if name in ("", ".", "..") or os.path.islink(path):
                real = os.path.realpath(path)
            else:
                real = os.path.join(self.real(folder or "."), name)
            self._real[path] = real
        return real

    def resolve_import(self, importer: str, item: syntax.Import) -> str | None:
        key = (str(Path(importer).parent), item.path)
        found = self._imports.get(key)
        if found is None:
            found = self._resolve_import(importer, item)
            if found is not None:
                self._imports[key] = found
        return found

    def _resolve_import(self, importer: str, item: syntax.Import) -> str | None:
        if item.path.startswith(STDLIB_PREFIX):
            candidate = stdlib_dir() / item.path[len(STDLIB_PREFIX) :]
        else:
            candidate = Path(importer).parent / item.path
        if candidate.is_file():
            return str(candidate) if candidate.is_absolute() else _rel(candidate)
        if candidate.is_dir():
            self.low.error(
                f"cannot import '{item.path}': it is a directory",
                item.pos,
                "import the .bronze files in it one by one",
            )
            return None
        hint = None
        if candidate.parent.is_dir():
            hint = did_you_mean(candidate.name, [p.name for p in candidate.parent.glob("*.bronze")])
        self.low.error(
            f"cannot import '{item.path}': no such file",
            item.pos,
            hint or f"paths are relative to {_rel(Path(importer).parent) or '.'}/, "
            "or start with stdlib/",
        )
        return None

    # --- definitions -------------------------------------------------------------

    def define(self, module: Module, block: syntax.Block) -> None:
        if block.kind == "platform":
            if self.labels(block, 1, "platform NAME { ... }"):
                self.add(module.platforms, block.labels[0], Definition(block, module.path), "platform")
        elif block.kind == "source":
            if self.labels(block, 2, "source NAME KIND { ... }  (at top level, a named template)"):
                self.add(module.templates, block.labels[0], Definition(block, module.path), "source template")
        elif block.kind == "pipeline":
            self.labels(block, 1, "pipeline SYSTEM.TABLE { ... }")
        else:
            self.low.error(
                f"unknown block '{block.kind}' at top level",
                block.pos,
                did_you_mean(block.kind, TOP_LEVEL) or "expected platform, source or pipeline",
            )

    def labels(self, block: syntax.Block, n: int, form: str) -> bool:
        if len(block.labels) == n:
            return True
        self.low.error(
            f"'{block.kind}' takes {n} name{'s' if n > 1 else ''}, got {len(block.labels)}",
            block.pos,
            f"write it as: {form}",
        )
        return False

    def add(self, table: dict[str, Definition], name: str, d: Definition, what: str) -> None:
        existing = table.get(name)
        if existing is None:
            table[name] = d
        elif existing.block is not d.block:
            self.low.error(
                f"{what} '{name}' is defined twice",
                d.block.pos,
                f"the other definition is at {existing.block.pos}",
            )

    # --- pipelines ---------------------------------------------------------------

    def pipeline(self, block: syntax.Block, module: Module) -> ir.Pipeline | None:
        if len(block.labels) != 1:
            return None  # reported by define()
        name = block.labels[0]
        name_pos = block.label_pos[0] if block.label_pos else block.pos
        system, dot, table = name.partition(".")
        if not dot or not system or not table or "." in table:
            self.low.error(
                f"pipeline name '{name}' must be SYSTEM.TABLE",
                name_pos,
                "e.g. pipeline salesforce.accounts { ... }: it becomes system=…/table=… in the path",
            )
            return None
        node = PMap(pos=block.pos, title=f"pipeline {name}")
        node.set("system", PScalar(system, name_pos))
        node.set("table", PScalar(table, name_pos))
        ok = True
        for item in block.body:
            if isinstance(item, syntax.Attribute) and item.key == "platform":
                platform = self.platform_ref(item, module)
                ok &= platform is not None
                if platform is not None:
                    node.set("platform", platform, item.key_pos)
            elif isinstance(item, syntax.Block) and item.kind == "source":
                source = self.source(item, module)
                ok &= source is not None
                if source is not None:
                    node.set("source", source, item.pos)
            else:
                ok &= self.put(node, item)
        if "platform" not in node.entries and ok:
            if module.broken:
                return None  # its platform may be in the file that failed
            if len(module.platforms) == 1:
                only = next(iter(module.platforms.values()))
                node.set("platform", self.platform_map(only), block.pos)
            else:
                self.low.error(
                    f"pipeline {name} names no platform",
                    block.pos,
                    "add: platform = NAME"
                    + (f" (one of {', '.join(sorted(module.platforms))})" if module.platforms else ""),
                )
                ok = False
        if not ok:
            return None
        node.set("source_file", PScalar(module.path, block.pos))
        return build_pipeline(self.low, node)

    def platform_ref(self, attr: syntax.Attribute, module: Module) -> PMap | None:
        value = attr.value
        if not (isinstance(value, syntax.ScalarValue) and isinstance(value.value, syntax.Ident)):
            self.low.error(
                "platform must name a platform", value.pos, "write: platform = NAME (no quotes)"
            )
            return None
        name = value.value.name
        d = module.platforms.get(name)
        if d is None and module.broken:
            return None  # the file that defines it failed, and says so
        if d is None:
            self.low.error(
                f"unknown platform '{name}'",
                value.pos,
                did_you_mean(name, module.platforms)
                or (
                    f"known platforms: {', '.join(sorted(module.platforms))}"
                    if module.platforms
                    else 'define it with platform NAME { ... } or import "platform.bronze"'
                ),
            )
            return None
        return self.platform_map(d)

    def platform_map(self, d: Definition) -> PMap:
        """A platform's values: one PMap for every pipeline that uses it, lowered once."""
        node = self._platforms.get(id(d.block))
        if node is None:
            node = self.low.share(self.block_map(d.block, named=True))
            self._platforms[id(d.block)] = node
        return node

    def source(self, block: syntax.Block, module: Module) -> PMap | None:
        if len(block.labels) != 1:
            self.low.error(
                "source takes one kind or template name",
                block.pos,
                f"write: source KIND {{ ... }} with KIND one of {', '.join(SOURCE_KINDS)}, "
                "or the name of a source template",
            )
            return None
        return self.source_map(block, block.labels[0], module, seen=())

    def source_map(
        self, block: syntax.Block, base: str, module: Module, seen: tuple[str, ...]
    ) -> PMap | None:
        pos = block.label_pos[-1] if block.label_pos else block.pos
        own = self.block_map(block, named=False)
        if base in SOURCE_KINDS:
            own.set("kind", PScalar(base, pos, is_ident=True), pos)
            return own
        template = module.templates.get(base)
        if template is None and module.broken:
            return None  # the file that defines it failed, and says so
        installed = installed_kinds() if template is None else {}
        if base in installed:
            return _installed_source(own, installed[base], pos)
        if template is None:
            self.low.error(
                f"unknown source kind or template '{base}'",
                pos,
                did_you_mean(base, [*SOURCE_KINDS, *module.templates, *installed])
                or f"expected one of {', '.join(SOURCE_KINDS)}, or a template defined with "
                "source NAME KIND { ... }",
            )
            return None
        if base in seen:
            self.low.error(f"source template '{base}' is based on itself", pos)
            return None
        parent = self.source_map(template.block, template.block.labels[1], module, (*seen, base))
        return None if parent is None else merge(parent, own)

    # --- blocks to positioned values --------------------------------------------------

    def block_map(self, block: syntax.Block, named: bool) -> PMap:
        """A block's body as a PMap. ``named``: the first label is the block's name."""
        node = PMap(pos=block.pos, title=" ".join((block.kind, *block.labels)))
        if named and block.labels:
            node.set("name", PScalar(block.labels[0], _label_pos(block, 0)))
        for item in block.body:
            self.put(node, item)
        return node

    def put(self, node: PMap, item: syntax.Attribute | syntax.Block) -> bool:
        if isinstance(item, syntax.Attribute):
            key, key_pos, value = item.key, item.key_pos, self.value(item.value)
        else:
            key, key_pos = item.kind, item.pos
            value = self.block_map(item, named=False)
            if len(item.labels) > 1:
                self.low.error(f"'{item.kind}' takes at most one kind", item.pos)
                return False
            if item.labels:
                value.set("kind", PScalar(item.labels[0], _label_pos(item, 0), is_ident=True))
        if key in node.entries:
            first = node.entries[key].key_pos
            self.low.error(
                f"'{key}' is set twice in {node.title or 'this block'}",
                key_pos,
                f"first set at {first}" if first else None,
            )
            return False
        node.set(key, value, key_pos)
        return True

    def value(self, v: syntax.Value) -> PNode:
        if isinstance(v, syntax.ListValue):
            return PList([self.value(i) for i in v.items], v.pos)
        if isinstance(v, syntax.MapValue):
            node = PMap(pos=v.pos)
            for attr in v.entries:
                self.put(node, attr)
            return node
        raw = v.value
        if isinstance(raw, syntax.EnvCall):
            return PScalar(Env(raw.name), v.pos)
        if isinstance(raw, syntax.Size):
            return PScalar(Quantity(raw.bytes, raw.text, "size"), v.pos)
        if isinstance(raw, syntax.Duration):
            return PScalar(Quantity(raw.seconds, raw.text, "duration"), v.pos)
        if isinstance(raw, syntax.Ident):
            return PScalar(raw.name, v.pos, is_ident=True)
        return PScalar(raw, v.pos)


def merge(base: PMap, override: PMap) -> PMap:
    """``override`` on top of ``base`` (see the module docstring for the rules)."""
    out = copy.copy(base)
    out.entries = dict(base.entries)
    out.pos, out.title = override.pos, override.title or base.title
    for key, entry in override.entries.items():
        mine = out.entries.get(key)
        if (
            mine is not None
            and isinstance(mine.value, PMap)
            and isinstance(entry.value, PMap)
            and _kind(mine.value) == _kind(entry.value)
        ):
            out.entries[key] = type(entry)(entry.key_pos, merge(mine.value, entry.value))
        else:
            out.entries[key] = entry
    return out


def _kind(node: PMap) -> object:
    k = node.get("kind")
    return k.value if isinstance(k, PScalar) else None


def _label_pos(block: syntax.Block, i: int) -> Position:
    return block.label_pos[i] if len(block.label_pos) > i else block.pos


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def _short(path: str) -> str:
    return _rel(Path(path))


def _installed_source(fields: PMap, target: str, pos: Position) -> PMap:
    """``source NAME { ... }`` of an installed kind: its class as a custom source, the
    block's fields as its params (docs/extending.md)."""
    module, _, cls = target.partition(":")
    node = PMap(pos=fields.pos, title=fields.title)
    node.set("kind", PScalar("custom", pos, is_ident=True), pos)
    node.set("module", PScalar(module, pos), pos)
    node.set("class_name", PScalar(cls, pos), pos)
    node.set("params", fields, pos)
    return node
