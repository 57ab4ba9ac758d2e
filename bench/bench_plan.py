"""Benchmark: wall time of ``foundry plan`` and ``foundry validate`` over 500 pipeline files.

Generates a project of small `.bronze` files in a temporary folder, as real
projects are laid out: one pipeline per file, every file importing one shared
platform file (a local ``platforms.bronze``, or ``stdlib/platforms/local.bronze``
with ``--platform stdlib``). Most pipelines read a database (an incremental query,
some in range partitions); every tenth uses the stdlib's GitHub API template and
every tenth reads local files. Then it times, as subprocesses from the project's
folder (wall clock, interpreter start-up included):

* ``foundry plan --offline FILE...`` (text: piped, so plain, 80 columns);
* ``foundry plan --offline --json FILE...``;
* ``foundry validate FILE...``;

each the median of ``--repeat`` runs with the worst run beside it. The plan's
run inputs are fixed (``--date``/``--at``), so the output of each command is
byte-identical from run to run: ``--save DIR`` writes it there, to compare
the output of two versions of foundry.

    python bench/bench_plan.py                    # 500 files, 5 runs of each command
    python bench/bench_plan.py --files 100 --repeat 3
    python bench/bench_plan.py --save /tmp/out    # also write each command's stdout
    python bench/bench_plan.py --keep /tmp/proj   # write the project there and keep it

Figures recorded on the development container are in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_INPUTS = ["--date", "2025-01-12", "--at", "2025-01-12T14:30:00Z"]

PLATFORMS = """\
# Platforms, owned by the data platform team.
platform lake {
  storage local {
    path = "./output"
  }
  partition = date
  formats = [parquet, csv]
  compression = zstd
}

platform analytics {
  storage s3 {
    bucket = "analytics-bronze"
    prefix = "bronze"
    endpoint = env("BRONZE_S3_ENDPOINT")
    access_key = env("BRONZE_S3_ACCESS_KEY")
    secret_key = env("BRONZE_S3_SECRET_KEY")
  }
  partition = hourly
  formats = [parquet]
  compression = snappy
}
"""


def _db(i: int, platform_import: str, platform: str) -> str:
    parts = (
        f'    partition_column = "order_id"\n    partitions = {2 + i % 3}\n' if i % 4 == 0 else ""
    )
    return (
        f"# Orders of shop {i} from the ERP, incrementally on updated_at.\n"
        f'import "{platform_import}"\n\n'
        f"pipeline erp.orders_{i:04d} {{\n"
        f"  platform = {platform}\n"
        "  source db {\n"
        '    connection = env("ERP_ODBC")\n'
        '    query = """\n'
        "      SELECT order_id, customer_id, order_date, total_amount, status, updated_at\n"
        f"      FROM shop_{i:04d}.orders\n"
        "      WHERE is_deleted = false\n"
        '    """\n'
        '    incremental_key = "updated_at"\n'
        "    lookback = 10m\n"
        f"{parts}"
        "    batch_size = 50_000\n"
        "  }\n"
        "  run {\n"
        "    max_file_size = 256MB\n"
        "    workers = 2\n"
        "  }\n"
        "}\n"
    )


def _api(i: int, platform_import: str, platform: str) -> str:
    return (
        f"# Issues of repository {i}, from the stdlib's GitHub template.\n"
        f'import "{platform_import}"\n'
        'import "stdlib/apis/github.bronze"\n\n'
        f"pipeline github.issues_{i:04d} {{\n"
        f"  platform = {platform}\n"
        "  source github {\n"
        f'    endpoint = "/repos/acme/repo-{i:04d}/issues"\n'
        "    params {\n"
        '      state = "all"\n'
        "    }\n"
        "  }\n"
        "  run {\n"
        "    max_file_size = 128MB\n"
        "  }\n"
        "}\n"
    )


def _files(i: int, platform_import: str, platform: str) -> str:
    return (
        f"# Stock levels of warehouse {i}, from CSV drops.\n"
        f'import "{platform_import}"\n\n'
        f"pipeline warehouse.stock_{i:04d} {{\n"
        f"  platform = {platform}\n"
        "  source files {\n"
        f'    paths = ["data/stock-{i % 7}/*.csv"]\n'
        "    format = csv\n"
        "  }\n"
        "}\n"
    )


def write_project(folder: Path, n: int, stdlib: bool) -> list[str]:
    """The project's files in ``folder``; returns the pipeline files, relative to it."""
    if stdlib:
        platform_import, platforms = "stdlib/platforms/local.bronze", ("local", "local")
    else:
        (folder / "platforms.bronze").write_text(PLATFORMS, encoding="utf-8")
        platform_import, platforms = "platforms.bronze", ("lake", "analytics")
    for k in range(7):
        data = folder / "data" / f"stock-{k}"
        data.mkdir(parents=True, exist_ok=True)
        (data / "2025-01-12.csv").write_text("sku,qty\na,1\nb,2\n", encoding="utf-8")
    names = []
    for i in range(n):
        if i % 10 == 3:
            text = _api(i, platform_import, platforms[1])
        elif i % 10 == 7:
            text = _files(i, platform_import, platforms[0])
        else:
            text = _db(i, platform_import, platforms[i % 2])
        name = f"p{i:04d}.bronze"
        (folder / name).write_text(text, encoding="utf-8")
        names.append(name)
    return names


COMMANDS: dict[str, list[str]] = {
    "plan --offline": ["plan", "--offline", *RUN_INPUTS],
    "plan --offline --json": ["plan", "--offline", "--json", *RUN_INPUTS],
    "validate": ["validate"],
}


@dataclass
class Run:
    seconds: float  # wall clock, start-up included
    cpu: float  # user + system seconds of the subprocess: steadier on a shared machine
    returncode: int
    stdout: bytes
    stderr: bytes


def run(folder: Path, args: list[str]) -> Run:
    """``python -m foundry_dsl ARGS`` from ``folder``."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    env.pop("COLUMNS", None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "foundry_dsl", *args], cwd=folder, env=env, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return Run(seconds, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status),
                   out.read(), err.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=500, help="pipeline files (default 500)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--platform", choices=["local", "stdlib"], default="local",
        help="import a local platforms.bronze (default) or stdlib/platforms/local.bronze",
    )
    parser.add_argument("--commands", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    parser.add_argument("--keep", metavar="DIR", help="write the project here and keep it")
    parser.add_argument("--save", metavar="DIR", help="write each command's stdout here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        folder = Path(args.keep or tmp).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        files = write_project(folder, args.files, args.platform == "stdlib")
        print(f"{len(files)} pipeline files in {folder if args.keep else 'a temporary folder'}, "
              f"importing the {args.platform} platform file; {args.repeat} runs each")
        print(f"{'command':<24} {'wall s: median [worst]':>24}  {'CPU s: median [worst]':>23}"
              f"  {'stdout':>11}")
        failed = False
        for label in args.commands:
            argv = [*COMMANDS[label], *files]
            runs = [run(folder, argv) for _ in range(args.repeat)]
            bad = [r for r in runs if r.returncode != 0]
            if bad:
                failed = True
                print(f"  ! foundry {label} exited {bad[0].returncode}: "
                      f"{bad[0].stderr.decode(errors='replace')[-600:]}")
            if len({r.stdout for r in runs}) > 1:
                failed = True
                print(f"  ! foundry {label}: the output differs between runs")
            out = runs[0].stdout
            wall = [r.seconds for r in runs]
            cpu = [r.cpu for r in runs]
            print(f"{'foundry ' + label:<24} {statistics.median(wall):>14.3f} [{max(wall):>7.3f}]"
                  f"  {statistics.median(cpu):>13.3f} [{max(cpu):>7.3f}]  {len(out):>9,} B",
                  flush=True)
            if args.save:
                save = Path(args.save)
                save.mkdir(parents=True, exist_ok=True)
                (save / (label.replace(" ", "_").replace("-", "") + ".out")).write_bytes(out)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
