"""Storage tests: a fresh prefix per test (the emulators are session fixtures)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def prefix() -> str:
    """A fresh prefix per test, so tests sharing one emulator never see each other."""
    return f"t-{uuid.uuid4().hex[:12]}"
