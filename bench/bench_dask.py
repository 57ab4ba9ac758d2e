"""Benchmark: one table in 8 parts, landed by the local executor and by the Dask executor.

A custom source splits itself into ``--parts`` parts (8: as a table in 8 range
partitions would) and generates deterministic rows, batch by batch, of seven columns:
two ints, a date, a decimal as text, two texts and a timestamp. The same pipeline
(local disk, Parquet, ``run.workers = 2`` unless ``--run-workers``, 32 MB files) is
landed:

* ``local``: :class:`LocalExecutor`, every part on a thread of one process;
* ``dask``: :class:`DaskExecutor` on a LocalCluster of ``--workers`` processes
  (foundry's ``local_cluster``, one thread each), one task per part, started once
  before the runs: its start time is measured apart and not in the runs' wall time.

Each mode runs in a child process of its own, ``--repeat`` times into fresh folders.
Printed: wall time (median and worst, and each run), rows/s (at the median and the
worst), CPU seconds per run over the runs only (the child's own, plus the workers' for
``dask``: steadier than wall time on a shared machine), the child's own peak RSS
(``getrusage(RUSAGE_SELF)``; for ``dask`` it is the driver, which also hosts the
LocalCluster's scheduler; ``os.wait4`` in the parent would count the workers too, as
they descend from it) and, for ``dask``, each worker's own peak RSS (asked at the end
with ``client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)``); then
the overhead per task, (dask median wall - local median wall) / parts.

    python bench/bench_dask.py                    # 8 x 500,000 rows, 3 runs per mode
    python bench/bench_dask.py --quick            # 8 x 50,000 rows: a smoke run
    python bench/bench_dask.py --run-workers 1    # one file written at a time per unit
    python bench/bench_dask.py --rows 8000000 --workers 2 --repeat 5

Figures: bench/README.md, "bench_dask.py".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MiB = 2**20
DATE = "2025-01-12"

SOURCE = '''
"""Deterministic rows in parts: part p holds ids [p * per_part, (p + 1) * per_part)."""
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foundry_dsl.sources.base import Extractor

STATUSES = pa.array(["new", "paid", "shipped", "returned"])
EPOCH_2020_DAYS = 18_262  # 2020-01-01 as days since 1970-01-01
EPOCH_2020_US = 1_577_836_800_000_000


class Orders(Extractor):
    def parts(self, ctx):
        return int(ctx.pipeline.source.params["parts"])

    def extract(self, ctx, part=0):
        params = ctx.pipeline.source.params
        per_part, size = int(params["per_part"]), int(params["batch_rows"])
        first = part * per_part
        for start in range(first, first + per_part, size):
            yield batch(start, min(size, first + per_part - start))


def batch(start, n):
    ids = np.arange(start, start + n, dtype=np.int64)
    cents = pc.utf8_lpad(pc.cast(pa.array(ids % 100), pa.string()), 2, "0")
    units = pc.cast(pa.array((ids % 100_000) // 100), pa.string())
    return pa.table({
        "order_id": pa.array(ids),
        "customer_id": pa.array((ids % 9_973).astype(np.int32)),
        "order_date": pa.array((EPOCH_2020_DAYS + ids % 1_500).astype(np.int32), pa.date32()),
        "amount": pc.binary_join_element_wise(units, cents, "."),
        "status": pc.take(STATUSES, pa.array(ids % 4)),
        "note": pc.binary_join_element_wise("order note ", pc.cast(pa.array(ids), pa.string()), ""),
        "created_at": pa.array(EPOCH_2020_US + ids * 1_000_003, pa.timestamp("us", tz="UTC")),
    })
'''


def _pipeline(folder: Path, rows: int, parts: int, run_workers: int):
    from foundry_dsl import ir

    (folder / "bench_orders.py").write_text(SOURCE)
    out = str(folder / "out")
    return ir.Pipeline(
        system="bench",
        table="orders",
        platform=ir.Platform(name="bench", storage=ir.LocalStorage(path=out)),
        source=ir.CustomSource(
            module="bench_orders", class_name="Orders",
            params={"parts": parts, "per_part": rows // parts, "batch_rows": 50_000},
        ),
        run=ir.RunOptions(local_output_dir=out, workers=run_workers, max_file_size=32 * MiB),
        source_file=str(folder / "bench.bronze"),
    )


def child(mode: str, rows: int, parts: int, workers: int, run_workers: int,
          repeat: int) -> dict[str, object]:
    """Every run of one mode, in this process; what the parent prints."""
    import datetime as dt
    import resource

    from foundry_dsl.executor.base import Executor
    from foundry_dsl.executor.local import LocalExecutor
    from foundry_dsl.planner.build import build_plan

    report: dict[str, object] = {"mode": mode}
    client = cluster = None
    executor: Executor
    if mode == "dask":
        from distributed import Client

        from foundry_dsl.executor.dask import DaskExecutor, local_cluster

        started = time.perf_counter()
        cluster = local_cluster(workers)
        client = Client(cluster.scheduler_address)
        client.wait_for_workers(workers)
        report["cluster_start_s"] = round(time.perf_counter() - started, 2)
        executor = DaskExecutor(scheduler=cluster.scheduler_address)
    else:
        executor = LocalExecutor()
    at = dt.datetime(2025, 1, 12, 6, 0, tzinfo=dt.timezone.utc)
    walls, landed, files = [], [], []
    cpu_before = _cpu_self(), _cpu_workers(client)
    for _ in range(repeat):
        folder = Path(tempfile.mkdtemp(prefix=f"foundry-bench-dask-{mode}-"))
        try:
            plan = build_plan([_pipeline(folder, rows, parts, run_workers)],
                              dt.date.fromisoformat(DATE), at, look_up_storage=False)
            started = time.perf_counter()
            (result,) = executor.execute(plan).results
            walls.append(time.perf_counter() - started)
            if result.status != "succeeded":
                raise SystemExit(f"{mode}: {result.error}")
            landed.append(result.rows)
            files.append(result.files)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    report.update(
        walls=walls, rows=landed, files=files,
        # this process alone: os.wait4 in the parent would also count the workers, which
        # are this process's descendants
        rss_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        cpu_s=_cpu_self() - cpu_before[0],
        worker_cpu_s=_cpu_workers(client) - cpu_before[1],
    )
    if client is not None and cluster is not None:
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        report["worker_rss_kib"] = [peaks[w] for w in sorted(peaks)]
        client.close()
        cluster.close()
    return report


def _cpu_self() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_workers(client: object) -> float:
    """User + system seconds the cluster's workers have spent so far (0 without one)."""
    if client is None:
        return 0.0

    def spent() -> float:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    return float(sum(client.run(spent).values()))  # type: ignore[attr-defined]


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, object]:
    """One child process for ``mode``: what it measured of itself (and of its workers)."""
    cmd = [sys.executable, __file__, "--child", mode, "--rows", str(args.rows),
           "--parts", str(args.parts), "--workers", str(args.workers),
           "--run-workers", str(args.run_workers), "--repeat", str(args.repeat)]
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-4000:]}")
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _mib(kib: object) -> str:
    return f"{int(kib) / 1024:,.0f} MiB"  # type: ignore[call-overload]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4_000_000, help="rows in all (default 8 x 500,000)")
    parser.add_argument("--parts", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes")
    parser.add_argument("--run-workers", type=int, default=2,
                        help="run.workers of the pipeline: files written at once per unit")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="8 x 50,000 rows: a smoke run")
    parser.add_argument("--child", choices=["local", "dask"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows = 400_000
    args.rows -= args.rows % args.parts
    if args.child:
        print(json.dumps(child(args.child, args.rows, args.parts, args.workers,
                               args.run_workers, args.repeat)))
        return 0

    print(f"{args.rows:,} rows in {args.parts} parts of {args.rows // args.parts:,}, 7 columns, "
          f"Parquet on local disk, run.workers={args.run_workers}, {args.workers} Dask workers; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"{args.repeat} runs per mode: median [worst]")
    reports = {mode: run_mode(mode, args) for mode in ("local", "dask")}
    medians = {}
    for mode, r in reports.items():
        walls: list[float] = r["walls"]  # type: ignore[assignment]
        assert all(n == args.rows for n in r["rows"]), r["rows"]  # type: ignore[attr-defined]
        med, worst = statistics.median(walls), max(walls)
        medians[mode] = med
        cpu = (r["cpu_s"] + r["worker_cpu_s"]) / args.repeat  # type: ignore[operator]
        line = (f"{mode:5}  wall {med:6.2f}s [{worst:6.2f}s]  "
                f"{args.rows / med:>10,.0f} rows/s [{args.rows / worst:,.0f}]  "
                f"cpu {cpu:5.1f}s/run  runs {', '.join(f'{w:.2f}' for w in walls)}  "
                f"files {r['files'][0]}  "  # type: ignore[index]
                f"{'driver' if mode == 'dask' else 'process'} peak RSS {_mib(r['rss_kib'])}")
        if mode == "dask":
            line += "  workers' peak RSS " + ", ".join(_mib(k) for k in r["worker_rss_kib"])  # type: ignore[attr-defined]
        print(line)
    print(f"cluster start (LocalCluster, {args.workers} workers, measured apart): "
          f"{reports['dask']['cluster_start_s']}s")
    overhead = (medians["dask"] - medians["local"]) / args.parts
    print(f"overhead per task: (dask {medians['dask']:.2f}s - local {medians['local']:.2f}s) / "
          f"{args.parts} tasks = {overhead:+.3f}s")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
