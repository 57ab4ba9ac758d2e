"""Runtime layer: the local executor, on threads.

Two levels of parallelism, as in the original tool: ``parallel`` pipelines at
once (``foundry apply --parallel N``), and inside each pipeline ``run.workers``
chunk writers (:mod:`foundry_dsl.executor.run`). A pipeline that
fails is reported and the others go on. Hands on a
:class:`~foundry_dsl.executor.base.RunResult`, one result per pipeline in plan order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from foundry_dsl.executor.base import Executor, Progress, RunResult, SilentProgress
from foundry_dsl.executor.run import PipelineRun
from foundry_dsl.planner.plan import Plan
from foundry_dsl.sources.registry import extractor_class


class LocalExecutor(Executor):
    def __init__(self, parallel: int = 1) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self.parallel = parallel

    def execute(self, plan: Plan, progress: Progress | None = None) -> RunResult:
        reporter = progress or SilentProgress()
        if not plan.pipelines:
            return RunResult(())
        workers = min(self.parallel, len(plan.pipelines))
        with _before_runs(plan), ThreadPoolExecutor(workers, thread_name_prefix="pipeline") as pool:
            futures = [pool.submit(PipelineRun(pp, reporter).run) for pp in plan.pipelines]
            return RunResult(tuple(f.result() for f in futures))


@contextlib.contextmanager
def _before_runs(plan: Plan) -> Iterator[None]:
    """Each source kind's preparations for the run (before this executor starts a
    thread), ended once every pipeline has finished."""
    kinds: dict[str, list[object]] = {}
    for pp in plan.pipelines:
        kinds.setdefault(pp.pipeline.source.kind, []).append(pp.pipeline.source)
    ends = []
    try:
        for kind, sources in kinds.items():
            end = extractor_class(kind).before_runs(sources)
            if end is not None:
                ends.append(end)
        yield
    finally:
        for end in ends:
            end()
