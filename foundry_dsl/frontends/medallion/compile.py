"""The YAML front end's entry point: one config file of the original tool → IR pipelines.

Front-end layer. A config written for medallion-foundry (``platform:`` and
``source:``) is accepted unchanged and compiles to the same :mod:`ir` a
``.bronze`` author gets. Three steps, each reporting into the shared
:class:`Lowering` with line and column:

1. read (:mod:`.read`): PyYAML's composer keeps every node's marks; syntax
   errors and duplicate keys become diagnostics; the nodes become
   :mod:`positioned` values;
2. check: :func:`.checks.check_document` reports unknown keys, wrong types and
   bad enum members in the spec's vocabulary; the rules that tie one key to
   another (``auth_type: bearer`` needs ``auth_token_env``) are checked while
   mapping;
3. translate: :mod:`.storage`, :mod:`.sources` (with :mod:`.api`) and
   :mod:`.run` turn the spec's shape into a :class:`PMap` shaped like
   ``ir.Pipeline`` (each value keeps its position) and ``lower.build_pipeline``
   makes the IR. A document with errors in steps 1 and 2 is not translated, so every
   message a user sees names the keys they wrote.

Several YAML documents (``---``) in one file are several pipelines. The
platform is named after the file's stem (``configs/github.yaml`` → ``github``).
"""

from __future__ import annotations

from foundry_dsl import ir
from foundry_dsl.errors import Position
from foundry_dsl.frontends.lower import Lowering, build_pipeline
from foundry_dsl.frontends.medallion.checks import check_document
from foundry_dsl.frontends.medallion.mapping import Mapper, key_pos
from foundry_dsl.frontends.medallion.read import parse
from foundry_dsl.frontends.medallion.run import run
from foundry_dsl.frontends.medallion.sources import source
from foundry_dsl.frontends.medallion.storage import platform
from foundry_dsl.frontends.positioned import PMap, PNode, PScalar


def compile_yaml(path: str, text: str, low: Lowering) -> list[ir.Pipeline]:
    """The pipelines in one YAML file; every problem goes into ``low``."""
    documents = parse(path, text, low)
    if documents is None:
        return []
    if not documents:
        low.error(
            "the file has no pipeline",
            Position(path, 1, 1),
            "a pipeline file has a platform: section and a source: section",
        )
        return []
    pipelines = []
    for doc in documents:
        if doc is None:
            continue
        p = translate(path, low, doc)
        if p is not None:
            pipelines.append(p)
    return pipelines


def translate(path: str, low: Lowering, doc: PNode) -> ir.Pipeline | None:
    """One YAML document → an ``ir.Pipeline`` (or diagnostics in ``low``)."""
    m = Mapper(path)
    if not check_document(doc, m.errors, Position(path, 1, 1)):
        low.diagnostics.extend(m.errors)
        return None
    assert isinstance(doc, PMap)
    platform_node = doc.get("platform")
    source_node = doc.get("source")
    assert isinstance(platform_node, PMap) and isinstance(source_node, PMap)
    out = PMap(pos=doc.pos, title="pipeline")
    out.set("system", source_node.entries["system"].value, source_node.entries["system"].key_pos)
    out.set("table", source_node.entries["table"].value, source_node.entries["table"].key_pos)
    ir_platform = platform(m, platform_node, key_pos(doc, "platform"))
    ir_source = source(m, source_node)
    ir_run = run(m, source_node, platform_node, ir_source)
    if m.errors:
        low.diagnostics.extend(m.errors)
        return None
    out.set("platform", ir_platform, key_pos(doc, "platform"))
    out.set("source", ir_source, key_pos(doc, "source"))
    out.set("run", ir_run, key_pos(source_node, "run"))
    out.set("source_file", PScalar(path, doc.pos))
    return build_pipeline(low, out)
