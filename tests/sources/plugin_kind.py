"""A source kind as an installed package ships it: an Extractor reading its params."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from foundry_dsl.sources.base import ExtractContext, Extractor


class Squares(Extractor):
    def extract(self, ctx: ExtractContext, part: int = 0) -> Iterator[list[dict[str, Any]]]:
        upto = int(self.source.params["upto"])
        yield [{"n": n, "square": n * n} for n in range(1, upto + 1)]
