"""Settings as an operator gives them: bad values stop the start with the variable named, secrets can
come from files, a misspelt name is pointed out, and `stet config check` shows what is in effect."""

from __future__ import annotations

import logging

import pytest

from service.config import Settings, SettingsError


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"STET_APPROVE_BELOW": "1.5"}, "STET_APPROVE_BELOW"),
        ({"STET_APPROVE_BELOW": "0.9", "STET_REJECT_ABOVE": "0.5"}, "STET_APPROVE_BELOW/REJECT_ABOVE"),
        ({"STET_SPAM_QUEUE_ABOVE": "0.99", "STET_SPAM_REJECT_ABOVE": "0.5"}, "STET_SPAM_*_ABOVE"),
        ({"STET_SPAM": "flase"}, "STET_SPAM"),
        ({"STET_RATE_LIMIT_SITE": "lots"}, "STET_RATE_LIMIT_SITE"),
        ({"STET_PORT": "eighty"}, "STET_PORT"),
        ({"STET_SWEEP_INTERVAL": "0"}, "STET_SWEEP_INTERVAL"),
        ({"STET_LOG_FORMAT": "xml"}, "STET_LOG_FORMAT"),
    ],
)
def test_a_bad_setting_stops_the_start_naming_the_variable(env, named):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert named in str(refused.value)


def test_booleans_read_as_people_write_them():
    assert Settings.from_env({"STET_SPAM": "off"}).spam is False
    assert Settings.from_env({"STET_SPAM": "Yes"}).spam is True


def test_a_secret_comes_from_the_file_its_FILE_variable_names(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cret-from-a-docker-secret\n")
    assert (
        Settings.from_env({"STET_SECRET_KEY_FILE": str(secret)}).secret_key == "s3cret-from-a-docker-secret"
    )
    with pytest.raises(SettingsError, match="both set"):
        Settings.from_env({"STET_SECRET_KEY_FILE": str(secret), "STET_SECRET_KEY": "x"})
    with pytest.raises(SettingsError, match="STET_SECRET_KEY_FILE"):
        Settings.from_env({"STET_SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_a_misspelt_setting_is_pointed_out(caplog):
    with caplog.at_level(logging.WARNING, logger="service.config"):
        settings = Settings.from_env({"STET_APROVE_BELOW": "0.2", "STET_DATA_DIR": "/data"})
    assert settings.approve_below == Settings().approve_below  # ignored, not guessed
    assert [r.getMessage() for r in caplog.records] == [
        "STET_APROVE_BELOW is not a Stet setting and is ignored (did you mean STET_APPROVE_BELOW?)"
    ]


def test_config_check_shows_the_settings_with_secrets_masked(runner, monkeypatch):
    monkeypatch.setenv("STET_SECRET_KEY", "do-not-print-me")
    monkeypatch.setenv("STET_DATABASE_URL", "postgresql+psycopg://stet:hunter2@db.internal/stet")
    result = runner("config", "check")
    assert result.exit_code == 0, result.output
    assert "STET_SECRET_KEY=********  (set)" in result.output
    assert "postgresql+psycopg://stet:***@db.internal/stet" in result.output
    assert "do-not-print-me" not in result.output and "hunter2" not in result.output
    assert "STET_APPROVE_BELOW=0.08" in result.output

    monkeypatch.setenv("STET_APPROVE_BELOW", "1.5")
    result = runner("config", "check")
    assert result.exit_code == 1
    assert "STET_APPROVE_BELOW='1.5'" in result.output


def test_site_set_changes_the_settings_no_other_screen_had(runner, db):
    from sqlalchemy import select

    from service.models import Site

    assert runner("site", "create", "Gazette").exit_code == 0
    result = runner(
        "site", "set", "Gazette", "--timezone", "Europe/Berlin", "--erasure", "remove",
        "--report-hide-weight", "5", "--approve-below", "0.1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with db.session() as session:
        site = session.scalar(select(Site).where(Site.name == "Gazette"))
        assert (site.timezone, site.erasure, site.report_hide_weight, site.approve_below) == (
            "Europe/Berlin", "remove", 5.0, 0.1,
        )  # fmt: skip

    refused = runner("site", "set", "Gazette", "--timezone", "Mars/Olympus")
    assert refused.exit_code != 0 and "IANA" in refused.output
    assert runner("site", "set", "Gazette").exit_code != 0  # nothing to change
