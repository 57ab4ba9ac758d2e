"""The original tool's extractor interface, unchanged: ``fetch_records(cfg, run_date)``.

A class written for medallion-foundry subclasses :class:`BaseExtractor` and
returns every record at once with the new cursor. foundry calls it through
:class:`foundry_dsl.sources.custom.CustomExtractor`, which hands the records
on in slices; new extractors should prefer the streaming ``extract(ctx)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date
from typing import Any


class BaseExtractor(ABC):
    @abstractmethod
    def fetch_records(
        self, cfg: dict[str, Any], run_date: date
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Fetch records from the source.

        Args:
            cfg: the full configuration, shaped as the original tool's YAML
            run_date: the logical run date of the extraction

        Returns:
            ``(records, new_cursor)``: a list of record dicts, and the cursor
            for the next incremental run or None.
        """
