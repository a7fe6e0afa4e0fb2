"""Measure the S3 photo store's cost per request: finding the store, and a photo's put and get.

Starts an S3 server (moto's, ``python -m moto.server``, as the tests do) on a free port,
makes a bucket, and times with ``GRIDGIS_PHOTO_STORE=s3``:

- ``photo_store()`` as each request calls it (the client kept per process), against
  making a boto3 client for each request;
- ``put`` of a new ~200 KB JPEG (HEAD, then PUT), ``put`` of one already there (HEAD
  only), ``get``; and the same on the folder store for comparison.

moto is much slower than MinIO (it is a Python mock); the figures bound the client's own
cost from above and say nothing of a real server's disk.

2026-12-07, 2 shared cores under a load average of 11-12 (other people's test runs),
``--rounds 200``, a 200 KiB photo:

==============================  =========
photo_store() (client kept)      0.070 ms
a new boto3 client             403.7 ms
S3 put, new key (HEAD + PUT)    33.6 ms
S3 put, key there (HEAD)         5.7 ms
S3 get                          10.6 ms
file put, new key                0.40 ms
file get                         0.16 ms
==============================  =========

Keeping the client is what makes the store usable per request: a client made per
request would cost ~0.4 s (boto3 loads its service model for each new session).

Usage::

    .venv/bin/python scripts/bench/photo_store_s3.py [--rounds 200]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path


def _per_call(run: Callable[[int], object], rounds: int) -> float:
    start = time.perf_counter()
    for i in range(rounds):
        run(i)
    return (time.perf_counter() - start) / rounds * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        os.environ.update(
            GRIDGIS_PHOTO_STORE="s3", GRIDGIS_S3_ENDPOINT=url, GRIDGIS_S3_BUCKET="bench",
            GRIDGIS_S3_ACCESS_KEY="bench", GRIDGIS_S3_SECRET_KEY="bench-secret",
        )  # fmt: skip
        import boto3

        from gridgis.cases.photo_stores import FileStore, photo_store

        boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
            aws_secret_access_key="bench-secret",
        ).create_bucket(Bucket="bench")  # fmt: skip
        photo = os.urandom(200 * 1024)
        store = photo_store()
        rows = [
            ("photo_store() (client kept)", _per_call(lambda i: photo_store(), args.rounds)),
            (
                "a new boto3 client",
                _per_call(
                    lambda i: boto3.session.Session().client("s3", endpoint_url=url),
                    max(args.rounds // 10, 5),
                ),
            ),
            ("S3 put, new key", _per_call(lambda i: store.put(f"1/{i}.jpg", photo), args.rounds)),
            ("S3 put, key there", _per_call(lambda i: store.put(f"1/{i}.jpg", photo), args.rounds)),
            ("S3 get", _per_call(lambda i: store.get(f"1/{i}.jpg"), args.rounds)),
        ]
        with tempfile.TemporaryDirectory() as folder:
            files = FileStore(Path(folder))
            rows += [
                ("file put, new key", _per_call(lambda i: files.put(f"1/{i}.jpg", photo), 200)),
                ("file get", _per_call(lambda i: files.get(f"1/{i}.jpg"), 200)),
            ]
        for name, ms in rows:
            print(f"{name:<30} {ms:8.3f} ms")
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
