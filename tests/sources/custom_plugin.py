"""A custom extractor importable from the Python path (tests/ is a package)."""

from __future__ import annotations

from datetime import date
from typing import Any

from foundry_dsl.extractors.base import BaseExtractor


class Plain(BaseExtractor):
    def fetch_records(self, cfg: dict[str, Any], run_date: date) -> tuple[list[dict[str, Any]], str | None]:
        n = cfg["source"]["custom_extractor"]["params"]["rows"]
        return [{"row": i} for i in range(n)], None
