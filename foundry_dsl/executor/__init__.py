"""Runtime: executors run a :class:`~foundry_dsl.plan.Plan` (``base`` is the interface)."""
