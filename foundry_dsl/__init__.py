"""foundry: declarative landing of raw data into the Bronze layer of a lakehouse."""

from __future__ import annotations

__version__ = "0.1.0"
