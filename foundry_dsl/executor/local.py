"""Runtime layer: the local executor, on threads.

Two levels of parallelism, as in the original tool: ``parallel`` pipelines at
once (``foundry apply --parallel N``), and inside each pipeline ``run.workers``
chunk writers (:mod:`foundry_dsl.executor.run`). A pipeline that
fails is reported and the others go on. Hands on a
:class:`~foundry_dsl.executor.base.RunResult`, one result per pipeline in plan order.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from foundry_dsl.executor.base import Executor, Progress, RunResult, SilentProgress
from foundry_dsl.executor.run import PipelineRun
from foundry_dsl.planner.plan import Plan


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
        with ThreadPoolExecutor(workers, thread_name_prefix="pipeline") as pool:
            futures = [pool.submit(PipelineRun(pp, reporter).run) for pp in plan.pipelines]
            return RunResult(tuple(f.result() for f in futures))
