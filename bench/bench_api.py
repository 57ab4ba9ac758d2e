"""Benchmark of the API source: ``foundry apply`` beside a fetch+parse floor and a naive loop.

A server in its own process answers from PRE-RENDERED responses (status line,
headers and body as one ``bytes`` each, written with one ``sendall`` on a
thread per connection, 127.0.0.1), so it is not the bottleneck. Pages hold
1,000 JSON records of 7 fields: two ints, a date, a decimal as a string, two
texts and a timestamp with a UTC offset (``/offset``: offset/limit with a
``total``; ``/next``: a next URL in the body). Each reader runs in its own
subprocess, so its peak RSS is its own:

  floor     requests + orjson: fetch and parse every page, write nothing
            (timed inside its process, after its imports)
  naive     requests → .json() → Table.from_pylist → pq.ParquetWriter, page by
            page (timed inside its process, after its imports)
  foundry   ``foundry apply`` as a subprocess on a generated .bronze pipeline,
            landing Parquet: wall time, interpreter start-up included

Each run measures the floor, foundry, the floor again and the naive loop, in
that order; foundry is compared with the mean of the two floors around it (a
shared machine's load drifts within a run) and with the naive loop of the same
run. ``--runs`` runs (3) give the median and the worst run of each reader and
of each ratio. A last foundry run at ``--rss-records`` (3M) shows that peak RSS
does not grow with the extraction.

    python bench/bench_api.py                       # 3 runs at 1M, then foundry at 3M
    python bench/bench_api.py --runs 1 --records 200000 --rss-records 0   # a quick look
    python bench/bench_api.py --paginate next_url   # no naive loop (it pages by offset)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

PAGE = 1000
DISTINCT_PAGES = 64  # page k serves body k % 64: the content varies, memory stays small
STATUSES = ("new", "paid", "shipped", "delivered", "returned")


# --- the server (its own process) -------------------------------------------------------


def page_records(k: int) -> list[dict[str, Any]]:
    """Page ``k``'s 1,000 records: ints, a date, a decimal as text, texts, a timestamp."""
    import datetime as dt

    epoch = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    out = []
    for j in range(PAGE):
        i = k * PAGE + j
        out.append({
            "id": i,
            "customer_id": i * 7 % 10_007,
            "order_date": (epoch.date() + dt.timedelta(days=i % 731)).isoformat(),
            "amount": f"{i * 7919 % 10_000_000 / 100:.2f}",
            "name": f"customer {i}",
            "status": STATUSES[i % 5],
            "created_at": (epoch + dt.timedelta(seconds=i * 37, microseconds=i % 997 * 1001))
            .isoformat(),
        })
    return out


def _response(body: bytes) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def serve(total: int, port_file: str) -> None:
    import socket

    import orjson

    recs = [orjson.dumps(page_records(k)) for k in range(DISTINCT_PAGES)]
    offset_pages = [_response(b'{"total":%d,"data":%s}' % (total, r)) for r in recs]
    empty = _response(b'{"total":%d,"data":[]}' % total)
    not_found = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"

    def answer(target: bytes) -> bytes:
        path, _, query = target.partition(b"?")
        q = dict(p.partition(b"=")[::2] for p in query.split(b"&") if p)
        if path == b"/offset":
            offset = int(q.get(b"offset", 0))
            return offset_pages[(offset // PAGE) % DISTINCT_PAGES] if offset < total else empty
        if path == b"/next":  # the next URL is spliced into a pre-rendered page
            start = int(q.get(b"from", 0))
            nxt = b'"/next?from=%d"' % (start + PAGE) if start + PAGE < total else b"null"
            return _response(b'{"next":%s,"data":%s}' % (nxt, recs[(start // PAGE) % DISTINCT_PAGES]))
        return not_found

    def handle(conn: socket.socket) -> None:
        with conn, contextlib.suppress(ConnectionError):  # a client killed mid-page
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buf = b""
            while True:
                end = buf.find(b"\r\n\r\n")
                while end < 0:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                    end = buf.find(b"\r\n\r\n")
                head, buf = buf[:end], buf[end + 4:]  # GET requests only: no body
                conn.sendall(answer(head.split(b" ", 2)[1]))

    listener = socket.create_server(("127.0.0.1", 0), backlog=128)
    Path(port_file).write_text(str(listener.getsockname()[1]))
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


def start_server(total: int) -> tuple[subprocess.Popen[bytes], str]:
    fd, port_file = tempfile.mkstemp(prefix="bench-api-port-")
    os.close(fd)
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(total), port_file])
    try:
        for _ in range(600):
            if Path(port_file).read_text():
                break
            time.sleep(0.05)
        port = Path(port_file).read_text()
    finally:
        os.unlink(port_file)
    return proc, f"http://127.0.0.1:{port}"


# --- the floor and the naive loop (each in its own process) -----------------------------


def _docs(url: str, paginate: str) -> Iterator[dict[str, Any]]:
    """Each page's parsed document, fetched with a bare requests session."""
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


def _naive(url: str, out: str) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import requests

    session = requests.Session()
    writer = None
    rows = offset = 0
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
    return rows


def child(mode: str, url: str, paginate: str, out: str) -> dict[str, Any]:
    import resource

    start = time.perf_counter()
    if mode == "floor":
        rows = sum(len(doc["data"]) for doc in _docs(url, paginate))
    elif mode == "naive":
        rows = _naive(url, out)
    else:
        raise SystemExit(f"unknown mode {mode}")
    seconds = time.perf_counter() - start
    return {"rows": rows, "seconds": seconds,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# --- foundry apply ----------------------------------------------------------------------

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


def run_apply(url: str, paginate: str, out: str) -> dict[str, Any]:
    """``foundry apply`` as a subprocess: wall time with start-up, and its own peak RSS."""
    import pyarrow.parquet as pq

    lake = os.path.join(out, "lake")
    pipeline = os.path.join(out, "bench.bronze")
    Path(pipeline).write_text(PIPELINE.format(lake=lake, url=url, source=SOURCES[paginate]))
    cmd = [sys.executable, "-m", "foundry_dsl.cli.main", "apply", pipeline, "--date", "2024-01-02",
           "--log-format", "json"]
    log_path = os.path.join(out, "apply.log")
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=out)
        watch = _Descendants(proc.pid)
        # wait4 reports this child's own peak RSS (communicate() would reap it first)
        _, status, usage = os.wait4(proc.pid, 0)
        watch.stop()
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = Path(log_path).read_text(errors="replace")[-600:]
        raise SystemExit(f"foundry apply failed (exit {code}):\n{tail}")
    files = sorted(Path(lake).rglob("*.parquet"))
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    schema = pq.read_schema(files[0]) if files else None
    meta = json.loads(next(Path(lake).rglob("_metadata.json")).read_text())
    return {"rows": rows, "seconds": seconds, "run_seconds": meta["durations"]["total_seconds"],
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
            "workers_rss_mb": watch.peaks(),
            "schema": ", ".join(f"{f.name} {f.type}" for f in schema) if schema else ""}


class _Descendants:
    """Peak RSS (VmHWM) of every process below ``pid`` (the page workers and their
    helper), read from /proc every 20 ms while it runs: the workers are not the apply's
    children, so its wait4 does not count them."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.seen: dict[int, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.02):
            parents: dict[int, int] = {}
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        with open(f"/proc/{entry}/stat") as fh:
                            parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
                    except OSError:
                        continue
            for pid in parents:
                up = parents.get(pid)
                while up is not None and up != self.pid and up > 1:
                    up = parents.get(up)
                if up == self.pid:
                    try:
                        with open(f"/proc/{pid}/status") as fh:
                            hwm = next(line for line in fh if line.startswith("VmHWM"))
                        self.seen[pid] = max(self.seen.get(pid, 0), int(hwm.split()[1]) / 1024)
                    except (OSError, StopIteration):
                        continue

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def peaks(self) -> list[float]:
        return sorted(self.seen.values(), reverse=True)


def measure(mode: str, url: str, paginate: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-api-{mode}-") as out:
        if mode == "foundry":
            return run_apply(url, paginate, out)
        cmd = [sys.executable, __file__, "--child", mode, "--url", url, "--paginate", paginate,
               "--out", out]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise SystemExit(f"{mode} failed:\n{res.stderr}")
        parsed: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
        return parsed


# --- the report -------------------------------------------------------------------------

LABELS = {"floor": "floor (requests+orjson)", "naive": "naive (json→pylist→pq)",
          "foundry": "foundry apply (wall)"}


def _rate(res: dict[str, Any]) -> float:
    return float(res["rows"]) / float(res["seconds"])


def _line(label: str, res: dict[str, Any], extra: str = "") -> str:
    return (f"  {label:<26}{res['rows']:>10,}{res['seconds']:>9.2f}{_rate(res):>11,.0f}"
            f"{res['rss_mb']:>9.0f} MB{extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rss-records", type=int, default=3_000_000,
                    help="a last, larger foundry run to show peak RSS is flat (0: skip)")
    ap.add_argument("--paginate", choices=["offset", "next_url"], default="offset")
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

    modes = ["floor", "naive", "foundry"] if args.paginate == "offset" else ["floor", "foundry"]
    print(f"API benchmark: {args.records:,} records, {args.paginate} pagination, pages of {PAGE} "
          f"records of 7 fields (2 ints, a date, a decimal as text, 2 texts, a timestamp); "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"  {'reader':<26}{'records':>10}{'seconds':>9}{'rows/s':>11}{'peak RSS':>12}")
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    floors: list[float] = []  # each run's floor: the mean of the floor before and after foundry
    schema = ""
    server, url = start_server(args.records)
    try:
        for run in range(1, args.runs + 1):
            print(f"run {run}")
            # floor, foundry, floor again, then naive: a machine whose load drifts during
            # the run moves both floors, and foundry is compared with their mean
            for mode in ["floor", "foundry", "floor", *(m for m in modes if m == "naive")]:
                res = measure(mode, url, args.paginate)
                if mode != "floor" and res["rows"] != args.records:
                    raise SystemExit(f"{mode} landed {res['rows']} rows, expected {args.records}")
                results[mode].append(res)
                extra = ""
                if mode == "foundry":
                    schema = res["schema"]
                    workers = res["workers_rss_mb"]
                    extra = (f"   (the run's own time {res['run_seconds']:.2f}s, "
                             f"CPU {res['cpu_seconds']:.2f}s; page worker processes' "
                             f"peak RSS: {', '.join(f'{w:.0f}' for w in workers) or 'none'}"
                             " MB)")
                print(_line(LABELS[mode], res, extra), flush=True)
            floors.append(statistics.mean(_rate(r) for r in results["floor"][-2:]))
            beside = [f"{_rate(results['foundry'][-1]) / floors[-1]:.2f}x floor (mean of both)"]
            if "naive" in modes:
                beside.append(f"{_rate(results['foundry'][-1]) / _rate(results['naive'][-1]):.2f}x naive")
            print(f"  foundry: {', '.join(beside)}", flush=True)
    finally:
        server.terminate()
        server.wait()

    print(f"summary over {args.runs} runs: rows/s median [worst]")
    for mode in modes:
        rates = [_rate(r) for r in results[mode]]
        print(f"  {LABELS[mode]:<26}{statistics.median(rates):>11,.0f} [{min(rates):,.0f}]")
    against = {"floor": floors}
    if "naive" in modes:
        against["naive"] = [_rate(r) for r in results["naive"]]
    for other, rates in against.items():
        ratios = [_rate(f) / o for f, o in zip(results["foundry"], rates, strict=True)]
        print(f"  foundry / {other:<16}{statistics.median(ratios):>11.2f}x [{min(ratios):.2f}x]"
              f"   runs: {', '.join(f'{r:.2f}' for r in ratios)}")
    print(f"  landed schema: {schema}")
    rss_1m = statistics.median(r["rss_mb"] for r in results["foundry"])
    if args.rss_records:
        server, url = start_server(args.rss_records)
        try:
            big = measure("foundry", url, args.paginate)
        finally:
            server.terminate()
            server.wait()
        if big["rows"] != args.rss_records:
            raise SystemExit(f"foundry landed {big['rows']} rows, expected {args.rss_records}")
        print(f"  foundry peak RSS: {rss_1m:.0f} MB at {args.records:,} (median), "
              f"{big['rss_mb']:.0f} MB at {args.rss_records:,} ({_rate(big):,.0f} rows/s): "
              f"ratio {big['rss_mb'] / rss_1m:.2f}; its page worker processes' peak RSS: "
              f"{', '.join(f'{w:.0f}' for w in big['workers_rss_mb']) or 'none'} MB")


if __name__ == "__main__":
    main()
