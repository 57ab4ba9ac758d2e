"""The one backoff rule that HTTP sources and storage both wait by."""

from __future__ import annotations

import random

from foundry_dsl.backoff import wait


def test_the_ceiling_doubles_per_attempt_up_to_the_cap() -> None:
    random.seed(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 5.0), (9, 5.0)]:
        waits = [wait(attempt, 0.5, 5.0) for _ in range(200)]
        assert min(waits) >= 0 and max(waits) <= ceiling
        assert max(waits) > 0.9 * ceiling  # full jitter reaches the ceiling


def test_equal_jitter_waits_at_least_half_the_ceiling() -> None:
    random.seed(7)
    waits = [wait(3, 1.0, 60.0, "equal") for _ in range(200)]
    assert min(waits) >= 2.0 and max(waits) <= 4.0
