"""The web app under a real gunicorn on a loopback port, for tests of what the server does.

gunicorn runs as the README starts it (``-c python:gridgis.web.gunicorn_conf``,
the gthread worker), with ``GRIDGIS_*`` settings given to its environment.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple


class Server(NamedTuple):
    port: int
    access_log: Path
    error_log: Path


@contextmanager
def gunicorn(
    folder: Path, settings: Mapping[str, str], *, options: Sequence[str] = ()
) -> Iterator[Server]:
    """Serve ``gridgis.web:create_app()`` with ``settings`` (``GRIDGIS_*``) until the block ends.

    The access log (default format, unless ``options`` say otherwise) and the
    error log are files in ``folder``; ``options`` are more of gunicorn's.
    """
    access, errors = folder / "access.log", folder / "error.log"
    env = {**os.environ, **settings}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "python:gridgis.web.gunicorn_conf",
        "-w",
        "1",
        "-k",
        "gthread",
        "--threads",
        "2",
        "-b",
        "127.0.0.1:0",
        "--access-logfile",
        str(access),
        "--error-logfile",
        str(errors),
        *options,
        "gridgis.web:create_app()",
    ]
    process = subprocess.Popen(command, env=env, cwd=folder)
    try:
        port = _listening_port(process, errors)
        yield Server(port, access, errors)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _listening_port(process: subprocess.Popen[bytes], errors: Path) -> int:
    """The port gunicorn says it listens at (its log), once its worker answers."""
    deadline = time.monotonic() + 60  # a guard against a hung start, not a measurement
    port = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn stopped: {errors.read_text(errors='replace')}")
        text = errors.read_text(errors="replace") if errors.exists() else ""
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        if found and "Booting worker" in text:
            port = int(found.group(1))
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5):
                    return port
            except OSError:
                pass
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not start: {errors.read_text(errors='replace')}")


def send_chunked(
    port: int, head: str, first: bytes, *, total: int, chunk: int = 64 * 1024
) -> tuple[int, bytes]:
    """Send a request with a chunked body of ``first`` then zeros, up to ``total`` bytes.

    Sends until the server answers, stops reading (a send blocks for 10 s) or
    closes the connection. Returns the body bytes the socket accepted and the
    whole answer (read until the server closes the connection).
    """
    sock = socket.create_connection(("127.0.0.1", port))
    sock.settimeout(10)
    answer = b""
    sent = 0
    try:
        sock.sendall(head.encode("latin-1"))
        piece = first
        while sent < total:
            try:
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(piece)
            piece = bytes(chunk)
            sock.setblocking(False)
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            except ConnectionResetError:
                break
            finally:
                sock.settimeout(10)
            if answer:
                break
        else:
            sock.sendall(b"0\r\n\r\n")
        while True:
            try:
                data = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not data:
                break
            answer += data
    finally:
        sock.close()
    return sent, answer
