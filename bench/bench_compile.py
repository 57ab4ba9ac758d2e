"""Benchmark: time and peak memory of `foundry validate` on large `.bronze` files.

Compiling must cost time and memory linear in the file's size. This generates
`.bronze` files of about 1, 3 and 11 MB in several shapes in a temporary
folder, runs ``foundry validate`` on each in a subprocess and prints its wall
seconds, its CPU seconds (user + system) and its own peak RSS (``os.wait4``:
the child's ``ru_usage``), each the median of the runs with the worst run
beside it, and per shape the ratio of the largest size's CPU and RSS per MB to
the smallest's (1 when linear; startup, ~0.5 s and ~40 MiB, weighs on 1 MB).

Shapes:

* ``pipelines``: many small pipelines in one file (~300 bytes each);
* ``list``: one pipeline whose files source has one huge list of strings;
* ``comments``: one pipeline with long comment lines (~1,000 characters),
  every 20th followed by an attribute with a trailing comment;
* ``strings``: one pipeline whose db query is one long triple-quoted string.

    python bench/bench_compile.py                          # every shape, 1, 3, 11 MB, 3 runs
    python bench/bench_compile.py --shapes list --sizes 11 --repeat 1
    python bench/bench_compile.py --keep /tmp/bench        # keep the generated files

Figures recorded on the development container are in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
KiB = 1024

PLATFORM = """\
platform lake {
  storage local {
    path = "./out"
  }
  partition = date
  formats = [parquet, csv]
}

"""


def _pipelines(size: int) -> str:
    parts = [PLATFORM]
    total = len(PLATFORM)
    i = 0
    while total < size:
        block = (
            f"# pipeline number {i}\n"
            f"pipeline shop.orders_{i:07d} {{\n"
            "  platform = lake\n"
            "  source files {\n"
            f'    paths = ["data/orders-{i}/*.csv"]\n'
            "    format = csv\n"
            "  }\n"
            "  run {\n"
            "    max_file_size = 128MB\n"
            "    workers = 2\n"
            "  }\n"
            "}\n\n"
        )
        parts.append(block)
        total += len(block)
        i += 1
    return "".join(parts)


def _list(size: int) -> str:
    head = PLATFORM + "pipeline shop.orders {\n  platform = lake\n  source files {\n    paths = [\n"
    tail = "    ]\n  }\n}\n"
    parts = [head]
    total = len(head) + len(tail)
    i = 0
    while total < size:
        item = f'      "data/{i:08d}/orders-{i:08d}.csv",\n'
        parts.append(item)
        total += len(item)
        i += 1
    parts.append(tail)
    return "".join(parts)


def _comments(size: int) -> str:
    head = (
        PLATFORM + "pipeline shop.orders {\n  platform = lake\n  source custom {\n"
        '    module = "shop.rows"\n    class_name = "Rows"\n    params {\n'
    )
    tail = "    }\n  }\n}\n"
    parts = [head]
    total = len(head) + len(tail)
    i = 0
    while total < size:
        text = f"      # {i:08d} " + "lorem ipsum dolor sit amet " * 37 + "\n"
        if i % 20 == 19:
            text += f"      k{i} = {i}  # a trailing comment on k{i}\n"
        parts.append(text)
        total += len(text)
        i += 1
    parts.append(tail)
    return "".join(parts)


def _strings(size: int) -> str:
    head = (
        PLATFORM + 'pipeline shop.orders {\n  platform = lake\n  source db {\n    connection = env("DB")\n'
        '    query = """\n'
    )
    tail = '      """\n  }\n}\n'
    parts = [head]
    total = len(head) + len(tail)
    i = 0
    while total < size:
        line = f"      SELECT {i} AS n, 'row {i:08d} of a long query text' AS note UNION ALL\n"
        parts.append(line)
        total += len(line)
        i += 1
    parts.append("      SELECT -1 AS n, 'end' AS note\n")
    parts.append(tail)
    return "".join(parts)


SHAPES: dict[str, Callable[[int], str]] = {
    "pipelines": _pipelines,
    "list": _list,
    "comments": _comments,
    "strings": _strings,
}


@dataclass
class Run:
    seconds: float  # wall clock
    cpu: float  # user + system seconds of the subprocess: steadier on a shared machine
    peak_rss: int  # bytes
    returncode: int


def validate(path: Path, timeout: float) -> Run:
    """``foundry validate path`` in a subprocess: wall time and its own peak RSS."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "foundry_dsl", "validate", str(path)],
        cwd=path.parent,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        assert proc.stderr is not None
        err = proc.stderr.read()  # drained before wait4, so a chatty child cannot block
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        print(f"  ! {path.name} exited {proc.returncode}: {err.decode(errors='replace')[-400:]}")
    return Run(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * KiB, proc.returncode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--sizes", nargs="+", type=float, default=[1, 3, 11], help="MB")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per run")
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print(
            f"{'shape':<10} {'size':>8}  {'wall s: median [worst]':<24}"
            f"{'CPU s: median [worst]':<24}{'peak RSS MiB: median [worst]'}"
        )
        failed = False
        for shape in args.shapes:
            per_mb: list[tuple[float, float, float]] = []
            for size_mb in args.sizes:
                text = SHAPES[shape](int(size_mb * MB))
                path = folder / f"{shape}-{size_mb:g}mb.bronze"
                path.write_text(text, encoding="utf-8")
                runs = [validate(path, args.timeout) for _ in range(args.repeat)]
                failed |= any(r.returncode != 0 for r in runs)
                secs = statistics.median(r.seconds for r in runs)
                cpu = statistics.median(r.cpu for r in runs)
                rss = statistics.median(r.peak_rss for r in runs)
                worst_s = max(r.seconds for r in runs)
                worst_cpu = max(r.cpu for r in runs)
                worst_rss = max(r.peak_rss for r in runs)
                actual_mb = len(text.encode()) / MB
                per_mb.append((actual_mb, cpu, rss))
                print(
                    f"{shape:<10} {actual_mb:>6.1f}MB  "
                    f"{secs:>8.2f} [{worst_s:>8.2f}]     "
                    f"{cpu:>8.2f} [{worst_cpu:>8.2f}]     "
                    f"{rss / MB:>8.1f} [{worst_rss / MB:>8.1f}]",
                    flush=True,
                )
            if len(per_mb) > 1:
                (mb0, c0, r0), (mb1, c1, r1) = per_mb[0], per_mb[-1]
                print(
                    f"{'':<10} per MB at {mb1:.0f} MB / at {mb0:.0f} MB: "
                    f"CPU {(c1 / mb1) / (c0 / mb0):.2f}, RSS {(r1 / mb1) / (r0 / mb0):.2f}"
                )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
