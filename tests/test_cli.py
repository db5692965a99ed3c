"""The operator's commands: sites, users, migrations."""

from __future__ import annotations

import os

from sqlalchemy import select

from service.accounts import authenticate, site_for_key
from tests.conftest import stet


def test_db_upgrade_is_repeatable(settings):
    result = stet(settings, "db", "upgrade")
    assert result.returncode == 0, result.stderr


def test_site_create_prints_only_the_key(settings, db):
    result = stet(settings, "site", "create", "Gazette")

    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    assert result.stdout == key + "\n" and key.startswith("stet_")
    with db.session() as session:
        assert site_for_key(session, key).name == "Gazette"


def test_site_names_are_unique(settings):
    stet(settings, "site", "create", "Gazette")
    result = stet(settings, "site", "create", "Gazette")
    assert result.returncode != 0
    assert "already exists" in result.stderr


def test_user_create_reads_the_password_from_stdin(settings, db):
    result = stet(settings, "user", "create", "perry", "--role", "admin", input="a long password\n")

    assert result.returncode == 0, result.stderr
    with db.session() as session:
        user = authenticate(session, "perry", "a long password")
        assert user is not None and user.role == "admin"
        assert authenticate(session, "perry", "wrong password") is None


def test_short_passwords_are_refused(settings, db):
    from service.models import User

    result = stet(settings, "user", "create", "jimmy", input="short\n")
    assert result.returncode != 0 and "at least 8" in result.stderr
    with db.session() as session:
        assert session.scalar(select(User)) is None


def test_site_words_add_list_and_remove(settings):
    stet(settings, "site", "create", "Gazette")
    added = stet(
        settings,
        "site",
        "words",
        "Gazette",
        "--banned",
        "casin*",
        "--suspect",
        "crypto",
        "--allowed-domain",
        "*.gazette.example",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.splitlines() == [
        "banned: casin*",
        "suspect: crypto",
        "allowed_domain: *.gazette.example",
    ]
    removed = stet(settings, "site", "words", "Gazette", "--remove", "--suspect", "crypto")
    assert "suspect: -" in removed.stdout.splitlines()


def test_site_words_refuses_what_the_matcher_cannot_use(settings):
    stet(settings, "site", "create", "Gazette")
    result = stet(settings, "site", "words", "Gazette", "--banned", "a*b*c")
    assert result.returncode != 0
    assert "banned: -" in stet(settings, "site", "words", "Gazette").stdout


def test_site_akismet_on_and_off(settings, db):
    from service.models import Site

    stet(settings, "site", "create", "Gazette")
    assert stet(settings, "site", "akismet", "Gazette", "--key", "k1").returncode != 0  # no --blog
    on = stet(settings, "site", "akismet", "Gazette", "--key", "k1", "--blog", "https://gazette.example")
    assert on.returncode == 0, on.stderr
    with db.session() as session:
        assert session.scalar(select(Site.akismet_key).where(Site.name == "Gazette")) == "k1"
    assert stet(settings, "site", "akismet", "Gazette", "--off").returncode == 0
    with db.session() as session:
        assert session.scalar(select(Site.akismet_key).where(Site.name == "Gazette")) is None


def test_each_process_gets_its_share_of_the_cores_unless_the_operator_chose(monkeypatch):
    """`stet worker -c N` and `stet api --workers N` pin torch's, ONNX Runtime's and BLAS's threads
    so N processes together use the cores once, not N times over."""
    from service.app.common import THREAD_VARIABLES, pin_threads

    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert pin_threads(2) == 4
    assert all(os.environ[name] == "4" for name in THREAD_VARIABLES)
    assert pin_threads(16) == 4  # already set (here, by the call above): kept

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    for name in THREAD_VARIABLES[1:]:
        monkeypatch.delenv(name)
    assert pin_threads(2) == 3 and os.environ["MKL_NUM_THREADS"] == "3"
