"""Benchmark of the API source: rows/s and peak RSS, foundry beside the bare floor.

A local server in its own process serves PRE-RENDERED pages of 1,000 records of
7 fields (bytes from memory, so it is not the bottleneck): offset/limit with a
``total``, or a next URL in the body. Each reader runs in its own subprocess,
so its peak RSS is its own:

  floor     requests + orjson: fetch and parse every page, write nothing
  naive     requests → .json() → Table.from_pylist → ParquetWriter, page by page
  foundry   ``foundry apply`` on a generated pipeline, landing Parquet
            (falls back to ApiExtractor → foundry_dsl.write writers when apply fails,
            and says so)

    python bench/bench_api.py                          # 1M records, then 3M for RSS
    python bench/bench_api.py --records 1000000 --rss-records 3000000 --paginate next_url
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE = 1000
DISTINCT_PAGES = 64  # page k serves body k % 64: the content varies, memory stays small


# --- the server (its own process) -------------------------------------------------------


def serve(total: int, port_file: str) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    import orjson

    def page_records(k: int) -> bytes:
        base = k * PAGE
        return orjson.dumps([
            {"id": base + i, "name": f"customer {base + i}", "email": f"c{base + i}@example.com",
             "amount": round((base + i) * 0.37 % 10_000, 2), "active": (base + i) % 3 != 0,
             "created_at": f"2024-{1 + (base + i) % 12:02d}-{1 + (base + i) % 28:02d}T12:00:00Z",
             "country": ("NL", "DE", "FR", "US", "BR")[(base + i) % 5]}
            for i in range(PAGE)
        ])

    recs = [page_records(k) for k in range(DISTINCT_PAGES)]
    offset_bodies = [b'{"total":%d,"data":%s}' % (total, r) for r in recs]
    empty = b'{"total":%d,"data":[]}' % total

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/offset":
                offset = int(q.get("offset", 0))
                body = offset_bodies[(offset // PAGE) % DISTINCT_PAGES] if offset < total else empty
            else:  # /next: the next URL is spliced into a pre-rendered page
                start = int(q.get("from", 0))
                nxt = b'"/next?from=%d"' % (start + PAGE) if start + PAGE < total else b"null"
                body = b'{"next":%s,"data":%s}' % (nxt, recs[(start // PAGE) % DISTINCT_PAGES])
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    Path(port_file).write_text(str(httpd.server_address[1]))
    httpd.serve_forever()


# --- the readers (each in its own process) ----------------------------------------------


def _pages(url: str, paginate: str):  # type: ignore[no-untyped-def]
    """Yield each page's parsed document with a bare requests session."""
    import orjson
    import requests

    session = requests.Session()
    if paginate == "offset":
        offset = 0
        while True:
            doc = orjson.loads(session.get(f"{url}/offset", params={"offset": offset,
                                                                    "limit": PAGE}).content)
            yield doc
            offset += len(doc["data"])
            if not doc["data"] or offset >= doc["total"]:
                return
    else:
        nxt: str | None = "/next"
        while nxt:
            doc = orjson.loads(session.get(url + nxt).content)
            yield doc
            nxt = doc["next"]


def child(mode: str, url: str, paginate: str, out: str) -> dict[str, object]:
    start = time.perf_counter()
    rows = 0
    if mode == "floor":
        for doc in _pages(url, paginate):
            rows += len(doc["data"])
    elif mode == "naive":
        import pyarrow as pa
        import pyarrow.parquet as pq
        import requests

        session = requests.Session()
        writer = None
        offset = 0
        while True:
            doc = session.get(f"{url}/offset", params={"offset": offset, "limit": PAGE}).json()
            if not doc["data"]:
                break
            table = pa.Table.from_pylist(doc["data"])
            writer = writer or pq.ParquetWriter(os.path.join(out, "naive.parquet"), table.schema)
            writer.write_table(table)
            rows += table.num_rows
            offset += table.num_rows
            if offset >= doc["total"]:
                break
        if writer:
            writer.close()
    elif mode == "direct":
        rows = _direct(url, paginate, out)
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds = time.perf_counter() - start
    import resource

    return {"rows": rows, "seconds": seconds,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _source(url: str, paginate: str):  # type: ignore[no-untyped-def]
    from foundry_dsl import ir

    if paginate == "offset":
        return ir.ApiSource(base_url=url, endpoint="/offset", records="data",
                            paginate=ir.OffsetPagination(limit=PAGE, total_path="total"))
    return ir.ApiSource(base_url=url, endpoint="/next", records="data",
                        paginate=ir.NextUrlPagination(next_url_path="next"))


def _direct(url: str, paginate: str, out: str) -> int:
    """ApiExtractor → 100k-row chunks → foundry_dsl.write.writers, written in a thread."""
    import datetime as dt
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa

    from foundry_dsl import ir
    from foundry_dsl.sources.api import ApiExtractor
    from foundry_dsl.sources.base import ExtractContext, NewCursor
    from foundry_dsl.write.writers import write_file

    src = _source(url, paginate)
    pipeline = ir.Pipeline(system="bench", table="api", platform=ir.Platform(name="b"), source=src)
    ctx = ExtractContext(pipeline, dt.date.today(), dt.datetime.now(dt.timezone.utc), Path(out))
    pool = ThreadPoolExecutor(2)
    pending: list = []
    buf: list[pa.Table] = []
    rows = files = 0

    def flush() -> None:
        nonlocal files, buf
        if not buf:
            return
        table = pa.concat_tables(buf)
        buf = []
        files += 1
        pending.append(pool.submit(write_file, table, f"{out}/part-{files:05d}.parquet",
                                   "parquet", "snappy"))
        while len(pending) > 2:
            pending.pop(0).result()

    for item in ApiExtractor(src).extract(ctx):
        if isinstance(item, NewCursor):
            continue
        table = item if isinstance(item, pa.Table) else pa.Table.from_batches([item])
        rows += table.num_rows
        buf.append(table)
        if sum(t.num_rows for t in buf) >= 100_000:
            flush()
    flush()
    for f in pending:
        f.result()
    pool.shutdown()
    return rows


PIPELINE = """\
platform bench_local {{
  storage local {{
    path = "{lake}"
  }}
  partition = date
  formats = [parquet]
  compression = snappy
}}

pipeline bench.api {{
  platform = bench_local
  source api {{
    base_url = "{url}"
    {source}
  }}
}}
"""

SOURCES = {
    "offset": 'endpoint = "/offset"\n    records = "data"\n    paginate offset {\n'
              '      limit = 1000\n      total_path = "total"\n    }',
    "next_url": 'endpoint = "/next"\n    records = "data"\n    paginate next_url {\n'
                '      next_url_path = "next"\n    }',
}


def run_apply(url: str, paginate: str, out: str) -> dict[str, object] | None:
    """``foundry apply`` as a subprocess; None when it does not land the data."""
    import pyarrow.dataset as ds

    lake = os.path.join(out, "lake")
    pipeline = os.path.join(out, "bench.bronze")
    Path(pipeline).write_text(PIPELINE.format(lake=lake, url=url, source=SOURCES[paginate]))
    cmd = [sys.executable, "-m", "foundry_dsl.cli.main", "apply", pipeline, "--date", "2024-01-02",
           "--log-format", "json"]
    log_path = os.path.join(out, "apply.log")
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=out)
        # wait4 reports this child's own peak RSS (communicate() would reap it first)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = Path(log_path).read_text(errors="replace")[-400:]
        print(f"  foundry apply failed (exit {code}): {tail}", file=sys.stderr)
        return None
    files = [str(p) for p in Path(lake).rglob("*.parquet")]
    rows = ds.dataset(files, format="parquet").count_rows() if files else 0
    # the floor is timed inside its process, after its imports; so is the run's own
    # time, which foundry records in _metadata.json (the wall time is printed too)
    meta = json.loads(next(Path(lake).rglob("_metadata.json")).read_text())
    return {"rows": rows, "seconds": meta["durations"]["total_seconds"], "wall": seconds,
            "rss_mb": usage.ru_maxrss / 1024}


def measure(mode: str, url: str, paginate: str) -> dict[str, object] | None:
    with tempfile.TemporaryDirectory(prefix=f"bench-api-{mode}-") as out:
        if mode == "apply":
            return run_apply(url, paginate, out)
        cmd = [sys.executable, __file__, "--child", mode, "--url", url, "--paginate", paginate,
               "--out", out]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise SystemExit(f"{mode} failed:\n{res.stderr}")
        return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def start_server(total: int) -> tuple[subprocess.Popen[bytes], str]:
    port_file = tempfile.mktemp(prefix="bench-api-port-")
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(total), port_file])
    for _ in range(600):
        if os.path.exists(port_file) and Path(port_file).read_text():
            break
        time.sleep(0.05)
    port = Path(port_file).read_text()
    os.unlink(port_file)
    return proc, f"http://127.0.0.1:{port}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--rss-records", type=int, default=3_000_000,
                    help="a second, larger foundry run to show peak RSS is flat (0: skip)")
    ap.add_argument("--paginate", choices=["offset", "next_url"], default="offset")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("port_file", nargs="?", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve is not None:
        serve(args.serve, args.port_file)
        return
    if args.child:
        print(json.dumps(child(args.child, args.url, args.paginate, args.out)))
        return

    print(f"API benchmark: {args.paginate} pagination, pages of {PAGE} records of 7 fields, "
          "pre-rendered by a server in its own process")
    print(f"{'reader':<28}{'records':>10}{'seconds':>9}{'rows/s':>11}{'x floor':>9}{'peak RSS':>11}")
    floor_rate = 0.0
    sizes = [args.records] + ([args.rss_records] if args.rss_records else [])
    for total in sizes:
        server, url = start_server(total)
        try:
            modes = ["floor", "naive", "apply"] if total == args.records else ["apply"]
            if args.skip_naive or args.paginate != "offset":
                modes = [m for m in modes if m != "naive"]
            for mode in modes:
                res = measure(mode, url, args.paginate)
                label = {"floor": "floor (requests+orjson)", "naive": "naive (json→pylist→pq)",
                         "apply": "foundry apply"}[mode]
                if res is None:  # apply could not land: drive the extractor directly
                    res = measure("direct", url, args.paginate)
                    label = "foundry (direct, no apply)"
                assert res is not None
                if mode != "floor" and res["rows"] != total:
                    raise SystemExit(f"{label} landed {res['rows']} rows, expected {total}")
                rate = float(res["rows"]) / float(res["seconds"])  # type: ignore[arg-type]
                if mode == "floor":
                    floor_rate = rate
                ratio = f"{rate / floor_rate:.2f}" if floor_rate else "-"
                print(f"{label:<28}{res['rows']:>10,}{float(res['seconds']):>9.2f}"  # type: ignore[arg-type]
                      f"{rate:>11,.0f}{ratio:>9}{float(res['rss_mb']):>8.0f} MB", flush=True)  # type: ignore[arg-type]
                if "wall" in res:
                    wall_rate = float(res["rows"]) / float(res["wall"])  # type: ignore[arg-type]
                    print(f"{'  wall, with start-up':<28}{'':>10}{float(res['wall']):>9.2f}"  # type: ignore[arg-type]
                          f"{wall_rate:>11,.0f}{wall_rate / floor_rate:>9.2f}", flush=True)
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    threading.stack_size(0)
    main()
