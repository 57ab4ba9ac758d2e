"""Runtime: executors run a :class:`~foundry_dsl.planner.plan.Plan` (``base`` is the interface)."""
