"""Bench: stage a file locally then upload it, or stream it straight to the store?

Runs moto's S3 server on 127.0.0.1 (a separate process, so its memory is not
counted), then, each in a fresh child process, writes the same data both ways:

- ``stage``: write the file to local disk in 1 MiB writes, then
  ``FsspecBackend.upload_file`` (multipart in 16 MiB parts, 4 in flight);
- ``stream``: ``fs.open(path, "wb")`` on s3fs and the same 1 MiB writes
  (s3fs buffers one block and sends parts one at a time).

Prints MB/s and the child's peak RSS. Usage::

    python bench/bench_upload.py [--mb 256] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time

MiB = 2**20
KEY, SECRET = "bench-key", "bench-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _backend(endpoint: str):  # type: ignore[no-untyped-def]
    from foundry_dsl import ir
    from foundry_dsl.storage.registry import backend_for

    os.environ.update(BENCH_S3_ENDPOINT=endpoint, BENCH_S3_KEY=KEY, BENCH_S3_SECRET=SECRET)
    storage = ir.S3Storage(
        bucket="bench", endpoint=ir.EnvRef(name="BENCH_S3_ENDPOINT"),
        access_key=ir.EnvRef(name="BENCH_S3_KEY"), secret_key=ir.EnvRef(name="BENCH_S3_SECRET"),
        region="us-east-1",
    )
    pipeline = ir.Pipeline(system="bench", table="t", platform=ir.Platform(name="b", storage=storage),
                           source=ir.FilesSource(paths=("x",)))
    return backend_for(pipeline)


def child(mode: str, endpoint: str, mb: int) -> None:
    backend = _backend(endpoint)
    block = os.urandom(MiB)
    start = time.perf_counter()
    if mode == "stage":
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "part-0001.parquet")
            with open(path, "wb") as fh:
                for _ in range(mb):
                    fh.write(block)
            backend.upload_file(path, f"{mode}/part-0001.parquet")
    else:
        with backend.fs.open(f"bench/{mode}/part-0001.parquet", "wb", block_size=16 * MiB) as fh:
            for _ in range(mb):
                fh.write(block)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "seconds": seconds, "mb_s": mb / seconds, "rss_mb": rss}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "ENDPOINT"))
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.mb)
        return
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        import boto3

        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=KEY,
                     aws_secret_access_key=SECRET, region_name="us-east-1").create_bucket(Bucket="bench")
        print(f"{args.mb} MiB per run, moto on {endpoint}")
        for mode in ("stage", "stream") * args.repeat:
            out = subprocess.run(
                [sys.executable, __file__, "--mb", str(args.mb), "--child", mode, endpoint],
                capture_output=True, text=True, check=True,
            )
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{r['mode']:>6}: {r['mb_s']:7.1f} MB/s  {r['seconds']:6.2f} s  "
                  f"peak RSS {r['rss_mb']:6.1f} MB")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
