from __future__ import annotations

from foundry_dsl.cli.main import console

console()
