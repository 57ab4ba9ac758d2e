"""Benchmark: land N rows from a streaming custom source into 8 MB Parquet files.

Runs the data path directly (convert → batch schema → chunker → streaming DuckDB writers)
in a child process per size, and prints rows/s and the child's peak RSS. The
claim it checks: peak memory does not grow with the source's size (RSS at 5M
rows within 20% of RSS at 1M rows). With ``--apply`` it also runs
``foundry apply`` as a subprocess on a generated pipeline file.

    python bench/bench_custom.py                 # 1M and 5M rows, direct
    python bench/bench_custom.py --apply         # also through `foundry apply`
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BATCH_ROWS = 50_000
MB = 2**20

SOURCE = '''
"""A streaming custom source: Arrow batches of seven mixed columns."""
import numpy as np
import pyarrow as pa

class Orders:
    def extract(self, ctx):
        yield from batches(int(ctx.pipeline.source.params["rows"]))

def batches(total, size=50_000):
    rng = np.random.default_rng(7)
    cats = np.array(["a", "bb", "ccc", "dddd"])
    for start in range(0, total, size):
        n = min(size, total - start)
        ids = np.arange(start, start + n)
        yield pa.record_batch({
            "id": ids,
            "customer": pa.array(np.char.add("cust-", rng.integers(0, 50_000, n).astype(str))),
            "amount": rng.normal(100, 30, n).round(2),
            "active": rng.random(n) < 0.5,
            "ts": pa.array(1_700_000_000_000_000 + ids * 1_000_123, pa.timestamp("us", tz="UTC")),
            "category": pa.array(cats[rng.integers(0, 4, n)]),
            "note": pa.array(np.char.add("note ", rng.integers(0, 2**40, n).astype(str))),
        })
'''


def _source_module(folder: Path) -> None:
    (folder / "bench_orders.py").write_text(SOURCE)


def child(rows: int, out: Path, workers: int) -> None:
    """Land ``rows`` rows into ``out``; the parent measures this process."""
    sys.path.insert(0, str(out))
    _source_module(out)
    import importlib
    import threading

    # written just above, at run time: not a package to import by name
    batches = importlib.import_module("bench_orders").batches

    from foundry_dsl.executor.jobs import WriteJob
    from foundry_dsl.executor.streams import FileWriters
    from foundry_dsl.write.chunker import Chunker
    from foundry_dsl.write.convert import to_table
    from foundry_dsl.write.schema import BatchSchema
    from foundry_dsl.write.writers import FileInfo

    schema = BatchSchema()
    chunker = Chunker(0, 8 * MB, fmt="parquet", compression="snappy", lanes=workers, scratch_dir=str(out))
    data = out / "data"
    data.mkdir(exist_ok=True)

    def make_job(index: int, _schema: object) -> WriteJob:
        # the direct path has no pipeline IR: the writers only use the job's paths
        return WriteJob(None, "", "bench", str(data), index, (("parquet", "snappy"),), schema.version)  # type: ignore[arg-type]

    def upload(job: WriteJob, infos: list[FileInfo]) -> None:
        pass

    stop = threading.Event()
    writers = FileWriters(workers, (("parquet", "snappy"),), make_job, upload, chunker.observe, stop, "bench")
    try:
        for batch in batches(rows, BATCH_ROWS):
            for piece in chunker.add(schema.add(to_table(batch))):
                writers.put(piece)
        for piece in chunker.flush():
            writers.put(piece)
        written = writers.finish()
    finally:
        stop.set()
        writers.close()
    landed = sum(w.infos[0].rows for w in written)
    assert landed == rows, (landed, rows)
    # the files still open at the end (one per writer) are small; `foundry apply` repacks them
    sizes = [w.infos[0].bytes / MB for w in written if w.end == "full"]
    print(f"files={len(written)} size_mb_min={min(sizes, default=0):.2f} size_mb_max={max(sizes, default=0):.2f}")


def _measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out}")
    return elapsed, usage.ru_maxrss * 1024, out.strip()  # Linux: ru_maxrss is in KiB


def _apply(rows: int, folder: Path) -> list[str]:
    _source_module(folder)
    (folder / "bench.bronze").write_text(
        f'''platform local {{
  storage local {{
    path = "{folder / 'landed'}"
  }}
  formats = [parquet]
}}

pipeline bench.orders {{
  platform = local
  source custom {{
    module = "bench_orders"
    class_name = "Orders"
    params {{
      rows = {rows}
    }}
  }}
  run {{
    max_file_size = 8MB
  }}
}}
'''
    )
    return [sys.executable, "-m", "foundry_dsl", "apply", str(folder / "bench.bronze"), "--date", "2025-01-12"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="*", default=[1_000_000, 5_000_000])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--apply", action="store_true", help="also run `foundry apply` as a subprocess")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, Path(args.out), args.workers)
        return
    repo = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", "")}
    modes = ["direct", "apply"] if args.apply else ["direct"]
    rss: dict[tuple[str, int], int] = {}
    for mode in modes:
        for rows in args.rows:
            folder = Path(tempfile.mkdtemp(prefix="foundry-bench-"))
            try:
                if mode == "direct":
                    cmd = [sys.executable, __file__, "--child", str(rows), "--out", str(folder),
                           "--workers", str(args.workers)]
                else:
                    cmd = _apply(rows, folder)
                elapsed, peak, detail = _measure(cmd, env)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            rss[(mode, rows)] = peak
            print(f"{mode:6} rows={rows:>9,} time={elapsed:6.2f}s rows/s={rows / elapsed:>11,.0f} "
                  f"peak_rss={peak / MB:7.1f} MB  {detail.splitlines()[-1] if detail else ''}")
        lo, hi = min(args.rows), max(args.rows)
        if lo != hi:
            ratio = rss[(mode, hi)] / rss[(mode, lo)]
            verdict = "OK" if ratio <= 1.2 else "FAIL"
            print(f"{mode:6} peak RSS at {hi:,} / at {lo:,} = {ratio:.3f}  ({verdict}: must be <= 1.20)")


if __name__ == "__main__":
    main()
