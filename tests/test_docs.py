"""docs/language.md's field reference is the one the IR generates."""

from __future__ import annotations

from pathlib import Path

from foundry_dsl.frontends.reference import field_tables

REPO = Path(__file__).resolve().parents[1]
MARKER = "<!-- fields: generated -->\n"


def test_language_reference_lists_every_field_of_the_ir() -> None:
    text = (REPO / "docs" / "language.md").read_text()
    assert text.split(MARKER, 1)[1] == field_tables(), (
        "regenerate with: python -c \"from foundry_dsl.frontends.reference import field_tables; "
        "print(field_tables(), end='')\" and paste below the marker"
    )
