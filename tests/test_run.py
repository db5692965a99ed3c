"""`stet run`: the whole service on embedded defaults, started and stopped as a user would."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from service.embedded import free_port
from tests.conftest import ROOT, wait_until

pytestmark = pytest.mark.worker


def _get(url: str, key: str | None = None) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell does for `stet run &`


@pytest.mark.parametrize(
    ("stop", "started"),
    [(signal.SIGINT, _ignore_sigint), (signal.SIGTERM, None)],
    ids=["ctrl-c, started from a script that ignores SIGINT", "SIGTERM"],
)
def test_stet_run_serves_everything_and_stops_cleanly(tmp_path, stop, started):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STET_")} | {
        "STET_HOME": str(tmp_path / "home"),
        "STET_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service.app.cli", "run"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=started,
        )
    try:
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return _get(f"{base}/readyz")["status"] == "ready"
            except OSError:
                return False

        wait_until(ready, 60, interval=0.3, what="stet run to be ready")
        output = log.read_text()
        assert f"{base}/dashboard" in output
        assert re.search(r"Dashboard login: admin / \S+", output)
        key = re.search(r"API key of site 'demo': (\S+)", output).group(1)
        redis_pid = int((tmp_path / "home" / "redis" / "redis.pid").read_text())

        body = json.dumps({"article": {"id": "a"}, "author": {"id": "u"}, "body": "Thank you for this."})
        request = urllib.request.Request(
            f"{base}/api/v1/comments",
            data=body.encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            comment = json.load(response)
        wait_until(
            lambda: _get(f"{base}/api/v1/comments/{comment['id']}", key)["status"] == "approved",
            60,
            interval=0.3,
        )
    finally:
        proc.send_signal(stop)
        proc.wait(60)
    output = log.read_text()
    assert "Stopping Stet" in output
    assert "restarting" not in output  # no child is started again once stopping began
    wait_until(lambda: not _alive(redis_pid), 10, what="the embedded Redis to stop")
    time.sleep(0.5)
    with pytest.raises(OSError):
        _get(f"http://127.0.0.1:{port}/healthz")
