"""How long to wait before a retry: one exponential backoff for every retry loop.

Sources (HTTP) and storage both retry transient failures; both wait here, so the
growth, the cap and the jitter are one rule. "full" jitter spreads waits over
``[0, ceiling]`` (many clients of one store stop retrying in step); "equal" keeps
half the ceiling fixed (a server that asked us to slow down gets at least that).
"""

from __future__ import annotations

import random
from typing import Literal


def wait(
    attempt: int, base: float, cap: float, jitter: Literal["full", "equal"] = "full"
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1 = the first failure)."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    if jitter == "equal":
        return ceiling / 2 + random.uniform(0, ceiling / 2)
    return random.uniform(0, ceiling)
