"""Benchmark of the database source: rows/s and peak RSS, foundry beside bare loops.

Starts a throwaway PostgreSQL (the test fixture's server), fills an ``orders``
table (ids, dates, numeric amounts, short texts, timestamps), then runs each
reader in its own subprocess so peak RSS is its own:

  pyodbc      fetchmany + conversion to Arrow (a Python object per value)
  bare        arrow-odbc → Parquet, the loop foundry must keep up with
  foundry-1   DbExtractor (1 partition) → Parquet, prepared once as the executor does
  foundry-2   DbExtractor (partitions = 2, two threads) → Parquet
  apply-1     `foundry apply` as a subprocess (1 partition): extract, chunk, write,
              commit with _metadata.json; rows/s over the run's own time (the
              "finished" event's seconds, so CLI start-up is not counted; wall beside it)
  apply-2     `foundry apply` with partitions = 2

On a shared machine one run is noise: ``--repeat N`` runs the modes round-robin
N times and prints each run and the median per mode, with its ratio to ``bare``.

    python bench/bench_db.py --rows 2000000 --repeat 5      # the issue's table
    python bench/bench_db.py --rows 1000000 --modes apply-1 --rss-rows 3000000   # RSS flat 1M vs 3M
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERY = "SELECT * FROM orders"


def _fill(server, rows: int) -> None:  # type: ignore[no-untyped-def]
    server.psql(
        "DROP TABLE IF EXISTS orders; CREATE TABLE orders (id bigint, customer_id int, "
        "order_date date, amount numeric(12,2), status text, note varchar(40), "
        "created_at timestamptz, updated_at timestamp);"
        f"INSERT INTO orders SELECT g, g % 9973, DATE '2020-01-01' + (g % 1500), "
        "(g % 100000) / 100.0, (ARRAY['new','paid','shipped','returned'])[1 + g % 4], "
        "'order note ' || g, TIMESTAMPTZ '2020-01-01' + g * INTERVAL '1 second', "
        f"TIMESTAMP '2021-01-01' + g * INTERVAL '1 ms' FROM generate_series(1, {rows}) g;"
        "ANALYZE orders;"
    )


def _child(mode: str, conn: str, out: str) -> dict[str, object]:
    import arrow_odbc
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pyodbc

    # libraries load before the clock starts, the same for every mode: rows/s is throughput
    if mode.startswith("foundry"):
        import foundry_dsl.sources.db  # noqa: F401
        import tests.sources.db_helpers  # noqa: F401
    start = time.perf_counter()
    rows = 0
    if mode == "pyodbc":
        cur = pyodbc.connect(conn + "UseDeclareFetch=1;Fetch=10000;").cursor()
        cur.execute(QUERY)
        names = [d[0] for d in cur.description]
        writer = None
        while chunk := cur.fetchmany(10_000):
            batch = pa.RecordBatch.from_pylist([dict(zip(names, r, strict=True)) for r in chunk])
            writer = writer or pq.ParquetWriter(out, batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
        if writer:
            writer.close()
    elif mode == "bare":
        reader = arrow_odbc.read_arrow_batches_from_odbc(
            QUERY, conn + "UseDeclareFetch=1;Fetch=10000;", batch_size=10_000, max_text_size=4096
        )
        with pq.ParquetWriter(out, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
    elif mode.startswith("apply"):
        return _apply(int(mode.split("-")[1]), conn, out)
    else:
        import dataclasses

        from foundry_dsl.sources.base import NewCursor
        from foundry_dsl.sources.db import DbExtractor
        from tests.sources.db_helpers import context, pipeline

        os.environ["BENCH_DB"] = conn
        parts = int(mode.split("-")[1])
        p = pipeline("BENCH_DB", QUERY, partitions=parts, partition_column="id" if parts > 1 else None)
        ex = DbExtractor(p.source)  # type: ignore[arg-type]
        ctx = context(p, batch_id=mode)
        ctx = dataclasses.replace(ctx, prepared=ex.prepare(ctx))
        counts = [0] * parts

        def one(part: int) -> None:
            writer = None
            for item in ex.extract(ctx, part):
                if isinstance(item, NewCursor):
                    continue
                writer = writer or pq.ParquetWriter(f"{out}.{part}", item.schema)
                writer.write_batch(item)
                counts[part] += item.num_rows
            if writer:
                writer.close()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(parts)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        rows = sum(counts)
    secs = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "rows": rows, "seconds": round(secs, 2),
            "rows_per_s": int(rows / secs), "peak_rss_mb": round(rss_mb)}


PIPELINE = """platform lake {{
  storage local {{
    path = "out"
  }}
  partition = batch_id
  formats = [parquet]
  compression = snappy
}}

pipeline bench.orders {{
  platform = lake
  source db {{
    connection = env("BENCH_DB")
    query = "{query}"
    {parts}
  }}
}}
"""


def _apply(parts: int, conn: str, out: str) -> dict[str, object]:
    folder = Path(out + ".d")
    folder.mkdir()
    extra = f'partition_column = "id"\n    partitions = {parts}' if parts > 1 else ""
    (folder / "bench.bronze").write_text(PIPELINE.format(query=QUERY, parts=extra))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "foundry_dsl", "apply", "bench.bronze", "--batch-id", "b1", "--log-format", "json"],
        cwd=folder, env={**os.environ, "BENCH_DB": conn, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - start
    finished = [json.loads(line) for line in done.stderr.splitlines() + done.stdout.splitlines()
                if line.startswith("{") and '"finished"' in line]
    if done.returncode or not finished:
        raise SystemExit(f"foundry apply failed:\n{done.stdout}{done.stderr}")
    rows, secs = int(finished[-1]["rows"]), float(finished[-1]["seconds"])
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"mode": f"apply-{parts}", "rows": rows, "seconds": round(secs, 2), "wall": round(wall, 2),
            "rows_per_s": int(rows / secs), "peak_rss_mb": round(rss_mb)}


def _measure(mode: str, conn: str, tmp: str) -> dict[str, object]:
    # a fresh folder per run, removed after it: repeated runs must not fill the disk
    with tempfile.TemporaryDirectory(dir=tmp) as out:
        done = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--conn", conn, "--out", f"{out}/{mode}.parquet"],
            check=True, capture_output=True, text=True,
        )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _medians(n: int, runs: dict[str, list[dict[str, object]]]) -> None:
    if len(next(iter(runs.values()))) < 2:
        return
    med = {m: statistics.median(int(str(r["rows_per_s"])) for r in rs) for m, rs in runs.items()}
    bare = med.get("bare")
    print(f"medians over {len(next(iter(runs.values())))} runs, {n} rows:")
    for m, rs in runs.items():
        ratio = f"  {med[m] / bare:.2f}x bare" if bare else ""
        rss = statistics.median(int(str(r["peak_rss_mb"])) for r in rs)
        print(f"  {m:<10} {int(med[m]):>9} rows/s  peak RSS {rss:>5.0f} MB{ratio}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--rss-rows", type=int, default=0, help="also measure foundry-1 RSS at this size")
    ap.add_argument("--modes", default="pyodbc,bare,foundry-1,foundry-2,apply-1,apply-2")
    ap.add_argument("--repeat", type=int, default=1, help="round-robin runs per mode; medians printed")
    ap.add_argument("--child")
    ap.add_argument("--conn")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.conn, args.out)))
        return

    from tests.fixtures.databases import PostgresServer

    with tempfile.TemporaryDirectory() as tmp:
        server = PostgresServer(Path(tempfile.mkdtemp(prefix="foundry-bench-pg-")))
        server.start()
        try:
            sizes = [args.rows] + ([args.rss_rows] if args.rss_rows else [])
            for n in sizes:
                _fill(server, n)
                modes = args.modes.split(",")
                runs: dict[str, list[dict[str, object]]] = {m: [] for m in modes}
                for _i in range(args.repeat if n == args.rows else 1):
                    for mode in modes:
                        r = _measure(mode, server.conn_str(), tmp)
                        runs[mode].append(r)
                        wall = f"  (wall {r['wall']} s)" if "wall" in r else ""
                        print(f"{n:>9} rows  {mode:<10} {r['rows_per_s']:>9} rows/s  "
                              f"{r['seconds']:>6} s  peak RSS {r['peak_rss_mb']:>5} MB{wall}", flush=True)
                _medians(n, runs)
        finally:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)


if __name__ == "__main__":
    main()
