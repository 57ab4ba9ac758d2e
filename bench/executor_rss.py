"""Benchmark: `foundry apply` lands N rows from a custom source into 8 MB Parquet files.

Prints rows/s and the peak RSS of the `foundry apply` process for 1M and 5M
rows (configurable), each run three times (best rate, median peak). Streaming with backpressure means peak RSS should not
grow with the number of rows: at 5M it should be within 20% of that at 1M.

    python bench/executor_rss.py                  # 1M and 5M rows, workers = 2
    python bench/executor_rss.py --workers 4 1000000 5000000 10000000
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SOURCE = '''
import pyarrow as pa
import pyarrow.compute as pc

BATCH = 50_000
STATUSES = pa.array(["placed", "paid", "shipped", "delivered", "cancelled"])


class Rows:
    """Synthetic orders, generated batch by batch (never all at once)."""

    def extract(self, ctx):
        total = int(ctx.pipeline.source.params["rows"])
        for start in range(0, total, BATCH):
            n = min(BATCH, total - start)
            ids = pa.array(range(start, start + n), pa.int64())
            yield pa.table({
                "order_id": ids,
                "customer_id": pc.add(pc.bit_wise_and(ids, 0xFFFF), 1),
                "amount": pc.divide(pc.cast(pc.bit_wise_and(ids, 0xFFFFF), pa.float64()), 100.0),
                "status": pc.take(STATUSES, pc.bit_wise_and(ids, 3)),
                "note": pc.binary_join_element_wise(
                    "order ", pc.cast(ids, pa.string()), " for customer, shipped by courier", ""
                ),
            })
'''

PIPELINE = """
platform bench {{
  storage local {{
    path = "out"
  }}
  partition = date
  formats = [parquet]
  compression = snappy
}}

pipeline bench.orders {{
  platform = bench
  source custom {{
    module = "rows"
    class_name = "Rows"
    params {{
      rows = {rows}
    }}
  }}
  run {{
    max_file_size = 8MB
    workers = {workers}
  }}
}}
"""


def run(rows: int, workers: int) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of one `foundry apply` landing ``rows`` rows."""
    with tempfile.TemporaryDirectory(prefix="foundry-bench-") as tmp:
        folder = Path(tmp)
        (folder / "rows.py").write_text(SOURCE)
        (folder / "bench.bronze").write_text(PIPELINE.format(rows=rows, workers=workers))
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "foundry_dsl", "apply", "bench.bronze", "--date", "2025-01-12"],
            cwd=folder,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # wait4 gives this child's own rusage (ru_maxrss in KiB on Linux)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - started
        if os.waitstatus_to_exitcode(status) != 0:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise SystemExit(f"foundry apply failed for {rows} rows:\n{err}")
        files = list((folder / "out").rglob("*.parquet"))
        sizes = sorted(f.stat().st_size for f in files)
        print(
            f"  {len(files)} files, sizes {sizes[0] / 2**20:.2f}..{sizes[-1] / 2**20:.2f} MiB",
            file=sys.stderr,
        )
        return seconds, usage.ru_maxrss * 1024


REPEAT = 3  # thread timing makes one run's peak noisy: report the median of three


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="*", type=int, default=[1_000_000, 5_000_000])
    parser.add_argument("--workers", type=int, default=2, help="chunk writers (run.workers)")
    args = parser.parse_args(argv)
    counts = args.rows
    print(f"custom source -> 8 MB Parquet files, workers = {args.workers}, {os.cpu_count()} CPUs")
    peaks = {}
    for rows in counts:
        runs = sorted((run(rows, args.workers) for _ in range(REPEAT)), key=lambda r: r[1])
        peak = runs[len(runs) // 2][1]
        fastest = min(r[0] for r in runs)
        peaks[rows] = peak
        print(
            f"{rows:>10,} rows  {rows / fastest:>12,.0f} rows/s (best of {REPEAT})  "
            f"peak RSS {peak / 2**20:7.1f} MiB (median; runs: "
            + ", ".join(f"{r[1] / 2**20:.0f}" for r in runs)
            + ")"
        )
    if len(counts) >= 2:
        lo, hi = peaks[counts[0]], peaks[counts[-1]]
        print(f"peak RSS at {counts[-1]:,} rows / at {counts[0]:,} rows = {hi / lo:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
