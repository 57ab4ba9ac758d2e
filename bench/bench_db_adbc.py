"""Benchmark of PostgreSQL through ADBC beside ODBC and dlt: rows/s and peak RSS, one run.

Starts a throwaway PostgreSQL (the test fixture's server), fills ``orders`` with
7 columns (bigint, int, date, numeric(12,2), two texts, timestamptz), then runs
each reader in its own subprocess so peak RSS is its own, round-robin:

  bare-odbc     arrow-odbc → pyarrow Parquet, tuned (server-side cursor, concurrent
                fetch, text buffers sized to the data, 50k-row batches)
  bare-adbc     adbc_driver_postgresql → pyarrow Parquet (binary COPY, ~30 lines)
  apply-odbc    `foundry apply`, an ODBC connection string (one connection)
  apply-adbc    `foundry apply`, a postgresql:// URL: the ADBC path (one connection)
  apply-adbc-2  the same with partition_column = "id", partitions = 2
  dlt-cx        dlt's sql_database (sql_table, connectorx backend) → filesystem
                destination as Parquet; dlt, connectorx, SQLAlchemy and psycopg2 live in
                their own venv, .cache/bench-dlt (made on first use), never in foundry's

`foundry apply` rows/s is given twice: over the run's own time (the "finished"
event's seconds: no CLI start-up) and over the wall time of the subprocess
(start-up included). dlt's is over ``pipeline.run`` (its imports not counted) and
over the wall time of its script (imports included), the bare loops' over their loop. Ratios printed: ADBC (one connection) over
bare-odbc, and ADBC with 2 partitions over dlt-cx. ``--rss-rows`` refills the
table with that many rows and runs the apply modes once more, for memory.
``--primary-key`` makes ``id`` (the partition column) the primary key: without an
index, the partitions' MIN/MAX is a scan of the whole table before the first row.

    python bench/bench_db_adbc.py --rows 1000000 --repeat 3 --rss-rows 5000000
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
import time
from pathlib import Path

from bench_db import PIPELINE  # the ODBC benchmark's pipeline: both measure one thing

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DLT_VENV = ROOT / ".cache" / "bench-dlt"
DLT_PACKAGES = ["dlt[parquet,filesystem]>=1.0", "sqlalchemy>=2.0", "connectorx>=0.3", "psycopg2-binary>=2.9"]
QUERY = "SELECT * FROM orders"
MODES = "bare-odbc,bare-adbc,apply-odbc,apply-adbc,apply-adbc-2,dlt-cx"


def _fill(server, rows: int, primary_key: bool = False) -> None:  # type: ignore[no-untyped-def]
    server.psql(
        "DROP TABLE IF EXISTS orders; CREATE TABLE orders (id bigint, customer_id int, "
        "order_date date, amount numeric(12,2), status text, note text, created_at timestamptz);"
        "INSERT INTO orders SELECT g, g % 9973, DATE '2020-01-01' + (g % 1500), "
        "(g % 100000) / 100.0, (ARRAY['new','paid','shipped','returned'])[1 + g % 4], "
        f"'order note ' || g, TIMESTAMPTZ '2020-01-01' + g * INTERVAL '1 second' FROM generate_series(1, {rows}) g;"
        + ("ALTER TABLE orders ADD PRIMARY KEY (id);" if primary_key else "")
        + "ANALYZE orders;"
    )


def _rss() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024)


def _bare(mode: str, conn: str, url: str, out: str) -> dict[str, object]:
    import pyarrow.parquet as pq

    if mode == "bare-odbc":
        import arrow_odbc

        start = time.perf_counter()
        reader = arrow_odbc.read_arrow_batches_from_odbc(
            QUERY, conn + "UseDeclareFetch=1;Fetch=50000;BoolsAsChar=0;", batch_size=50_000,
            max_text_size=256, fetch_concurrently=True,
        )
    else:
        from adbc_driver_postgresql import dbapi

        start = time.perf_counter()
        cur = dbapi.connect(url, autocommit=True).cursor()
        cur.execute(QUERY)
        reader = cur.fetch_record_batch()
    rows = 0
    with pq.ParquetWriter(out, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
            rows += batch.num_rows
    secs = time.perf_counter() - start
    return {"rows": rows, "seconds": secs, "amount": str(pq.read_schema(out).field("amount").type)}


def _apply(mode: str, conn: str, url: str, out: str) -> dict[str, object]:
    import pyarrow.dataset as ds

    folder = Path(out + ".d")
    folder.mkdir()
    parts = 'partition_column = "id"\n    partitions = 2' if mode.endswith("-2") else ""
    (folder / "bench.bronze").write_text(PIPELINE.format(query=QUERY, parts=parts))
    env = {**os.environ, "BENCH_DB": url if "adbc" in mode else conn, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "foundry_dsl", "apply", "bench.bronze", "--batch-id", "b1", "--log-format", "json"],
        cwd=folder, env=env, capture_output=True, text=True, check=False,
    )
    wall = time.perf_counter() - start
    finished = [json.loads(line) for line in done.stderr.splitlines() + done.stdout.splitlines()
                if line.startswith("{") and '"finished"' in line]
    if done.returncode or not finished:
        raise SystemExit(f"foundry apply failed:\n{done.stdout}{done.stderr}")
    landed = ds.dataset(folder / "out", format="parquet", exclude_invalid_files=True)
    return {"rows": int(finished[-1]["rows"]), "seconds": float(finished[-1]["seconds"]), "wall": wall,
            "amount": str(landed.schema.field("amount").type)}


DLT_CHILD = r"""
import json, os, resource, sys, time
os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
import dlt
import pyarrow.dataset as ds
from dlt.sources.sql_database import sql_table
url, out = sys.argv[1], sys.argv[2]
start = time.perf_counter()
table = sql_table(credentials=url.replace("postgresql://", "postgresql+psycopg2://"), table="orders",
                  backend="connectorx", backend_kwargs={"conn": url})
pipe = dlt.pipeline(pipeline_name="bench", pipelines_dir=out + "/pipelines", dataset_name="bench",
                    destination=dlt.destinations.filesystem(bucket_url=out + "/lake"))
pipe.run(table, loader_file_format="parquet")
secs = time.perf_counter() - start
landed = ds.dataset(out + "/lake/bench/orders", format="parquet")
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps({"rows": landed.count_rows(), "seconds": secs, "peak_rss_mb": round(rss / 1024),
                  "amount": str(landed.schema.field("amount").type)}))
"""


def _dlt_python() -> Path | None:
    """The benchmark venv's python with dlt and connectorx, made on first use; None if it cannot be."""
    py = DLT_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(DLT_VENV)], check=True)
    check = subprocess.run([str(py), "-c", "import dlt, connectorx, sqlalchemy, psycopg2"], capture_output=True)
    if check.returncode:
        done = subprocess.run([str(py), "-m", "pip", "install", "-q", *DLT_PACKAGES], capture_output=True, text=True)
        if done.returncode:
            print(f"dlt-cx: cannot install {DLT_PACKAGES} into {DLT_VENV}:\n{done.stderr[-2000:]}", flush=True)
            return None
    return py


def _child(mode: str, conn: str, url: str, out: str) -> dict[str, object]:
    # libraries load before the clock starts, the same for every in-process mode
    import pyarrow.dataset
    import pyarrow.parquet  # noqa: F401

    if mode.startswith("apply"):
        result = _apply(mode, conn, url, out)
    else:
        result = _bare(mode, conn, url, out)
    return {**result, "peak_rss_mb": _rss()}


def _measure(mode: str, conn: str, url: str, tmp: str) -> dict[str, object] | None:
    # a fresh folder per run, removed after it: repeated runs must not fill the disk
    with tempfile.TemporaryDirectory(dir=tmp) as out:
        if mode == "dlt-cx":
            py = _dlt_python()
            if py is None:
                return None
            cmd = [str(py), "-c", DLT_CHILD, url, out]
        else:
            cmd = [sys.executable, __file__, "--child", mode, "--conn", conn, "--url", url, "--out", f"{out}/{mode}.parquet"]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
    if done.returncode:
        print(f"{mode} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}", flush=True)
        return None
    r = dict(json.loads(done.stdout.strip().splitlines()[-1]))
    if mode == "dlt-cx":  # the whole script: its imports as foundry's start-up counts in its wall
        r["wall"] = wall
    r["rows_per_s"] = int(r["rows"] / r["seconds"])
    if "wall" in r:
        r["wall_rows_per_s"] = int(r["rows"] / r["wall"])
    return r


def _line(n: int, mode: str, r: dict[str, object]) -> str:
    wall = f"  wall {r['wall']:.2f} s = {r['wall_rows_per_s']:>7} rows/s" if "wall" in r else ""
    return (f"{n:>9} rows  {mode:<13} {r['rows_per_s']:>7} rows/s  {r['seconds']:>6.2f} s  "
            f"peak RSS {r['peak_rss_mb']:>5} MB  amount {r['amount']}{wall}")


def _summary(runs: dict[str, list[dict[str, object]]]) -> None:
    def med(mode: str, key: str = "rows_per_s") -> float | None:
        vals = [int(str(r[key])) for r in runs.get(mode, []) if key in r]
        return statistics.median(vals) if vals else None

    def worst(mode: str, key: str = "rows_per_s") -> int | None:
        vals = [int(str(r[key])) for r in runs.get(mode, []) if key in r]
        return min(vals) if vals else None

    print("\nmedian (worst) rows/s, peak RSS median:")
    for mode, rs in runs.items():
        if not rs:
            print(f"  {mode:<13} not measured")
            continue
        wall = f"   wall {med(mode, 'wall_rows_per_s'):>9.0f} ({worst(mode, 'wall_rows_per_s')})" if "wall" in rs[0] else ""
        rss = statistics.median(int(str(r["peak_rss_mb"])) for r in rs)
        print(f"  {mode:<13} {med(mode):>9.0f} ({worst(mode)}){wall}   {rss:.0f} MB")
    print("ratios (median; worst run over the other's median):")
    run, wall = "rows_per_s", "wall_rows_per_s"
    for num, den, num_key, den_key in [
            ("apply-adbc", "bare-odbc", run, run), ("apply-adbc", "bare-odbc", wall, run),
            ("bare-adbc", "bare-odbc", run, run), ("apply-adbc", "apply-odbc", run, run),
            ("apply-adbc-2", "dlt-cx", run, run), ("apply-adbc-2", "dlt-cx", wall, run),
            ("apply-adbc-2", "dlt-cx", wall, wall)]:
        a, b = med(num, num_key), med(den, den_key)
        if a and b:
            w = worst(num, num_key) or 0
            label = {run: "run", wall: "wall"}
            print(f"  {num} / {den} ({label[num_key]} / {label[den_key]}): {a / b:.2f}x  "
                  f"(worst {w / b:.2f}x)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="round-robin runs per mode")
    ap.add_argument("--rss-rows", type=int, default=0, help="then refill with this many rows and run the apply modes once")
    ap.add_argument("--modes", default=MODES)
    ap.add_argument("--primary-key", action="store_true",
                    help="make id the table's primary key: MIN/MAX of the partition column "
                         "reads the index instead of scanning the table")
    ap.add_argument("--child")
    ap.add_argument("--conn")
    ap.add_argument("--url")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.conn, args.url, args.out)))
        return

    from tests.fixtures.databases import PostgresServer

    modes = args.modes.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        server = PostgresServer(Path(tempfile.mkdtemp(prefix="foundry-bench-pg-")))
        server.start()
        try:
            _fill(server, args.rows, args.primary_key)
            runs: dict[str, list[dict[str, object]]] = {m: [] for m in modes}
            for _ in range(args.repeat):
                for mode in modes:
                    r = _measure(mode, server.conn_str(), server.url(), tmp)
                    if r is not None:
                        runs[mode].append(r)
                        print(_line(args.rows, mode, r), flush=True)
            _summary(runs)
            if args.rss_rows:
                _fill(server, args.rss_rows, args.primary_key)
                print(f"\npeak RSS at {args.rss_rows} rows (one run each):")
                for mode in [m for m in modes if m.startswith("apply")]:
                    r = _measure(mode, server.conn_str(), server.url(), tmp)
                    if r is not None:
                        print(_line(args.rss_rows, mode, r), flush=True)
        finally:
            server.stop()
            shutil.rmtree(server.root, ignore_errors=True)


if __name__ == "__main__":
    main()
