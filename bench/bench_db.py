"""Benchmark of the database source: rows/s and peak RSS, foundry beside bare loops.

Starts a throwaway PostgreSQL (the test fixture's server), fills an ``orders``
table (ids, dates, numeric amounts, short texts, timestamps), then runs each
reader in its own subprocess so peak RSS is its own:

  pyodbc      fetchmany + conversion to Arrow (a Python object per value)
  bare        arrow-odbc → Parquet, the loop foundry must keep up with
  foundry-1   DbExtractor (1 partition) → Parquet
  foundry-2   DbExtractor (partitions = 2, two threads) → Parquet

    python bench/bench_db.py --rows 2000000            # the issue's table
    python bench/bench_db.py --rows 1000000 --rss-rows 3000000   # RSS flat 1M vs 3M
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    import pyarrow as pa
    import pyarrow.parquet as pq

    start = time.perf_counter()
    rows = 0
    if mode == "pyodbc":
        import pyodbc

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
        import arrow_odbc

        reader = arrow_odbc.read_arrow_batches_from_odbc(
            QUERY, conn + "UseDeclareFetch=1;Fetch=10000;", batch_size=10_000, max_text_size=4096
        )
        with pq.ParquetWriter(out, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
                rows += batch.num_rows
    else:
        from foundry_dsl.sources.base import NewCursor
        from foundry_dsl.sources.db import DbExtractor
        from tests.sources.db_helpers import context, pipeline

        os.environ["BENCH_DB"] = conn
        parts = int(mode.split("-")[1])
        p = pipeline("BENCH_DB", QUERY, partitions=parts, partition_column="id" if parts > 1 else None)
        ex = DbExtractor(p.source)  # type: ignore[arg-type]
        ctx = context(p, batch_id=mode)
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


def _measure(mode: str, conn: str, tmp: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--conn", conn, "--out", f"{tmp}/{mode}.parquet"],
        check=True, capture_output=True, text=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--rss-rows", type=int, default=0, help="also measure foundry-1 RSS at this size")
    ap.add_argument("--modes", default="pyodbc,bare,foundry-1,foundry-2")
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
                modes = args.modes.split(",") if n == args.rows else ["foundry-1"]
                for mode in modes:
                    r = _measure(mode, server.conn_str(), tmp)
                    print(f"{n:>9} rows  {mode:<10} {r['rows_per_s']:>9} rows/s  "
                          f"{r['seconds']:>6} s  peak RSS {r['peak_rss_mb']:>5} MB", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
