"""The original tool's ``extractors`` package, for custom extractors moving over.

``from foundry_dsl.extractors.base import BaseExtractor`` is the spec's
``from extractors.base import BaseExtractor``; while foundry imports a custom
extractor module, the literal ``extractors.base`` import works too
(see :mod:`foundry_dsl.sources.custom`).
"""
