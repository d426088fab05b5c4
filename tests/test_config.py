"""Configuration values are checked when read: a bad one is a clear error, never a silent loss."""

from __future__ import annotations

from pathlib import Path

import pytest

from beancount_ponto.config import load_config, save_config
from beancount_ponto.errors import ConfigError

LINK = '\n[accounts.abc]\naccount = "Assets:Bank:Checking"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("overlap_days = -3\n", "overlap_days"),
        ("overlap_days = 0\n", "overlap_days"),
        ("overlap_days = true\n", "overlap_days"),
        ("consent_warning_days = -1\n", "consent_warning_days"),
        ("fetch_stale_minutes = -5\n", "fetch_stale_minutes"),
        ('api_url = "api.myponto.com"\n', "api_url"),
        ('api_url = "ftp://api.myponto.com"\n', "api_url"),
        ('flag = "x"\n', "flag"),
        ('time_zone = "Mars/Base"\n', "time zone"),
        ('counter_account = "expenses:lower"\n', "Beancount account"),
        ("overlap_days = 7\n" + LINK + "start_date = 2026-11-15T00:00:00\n", "start_date"),
        ('overlap_days = 7\n[accounts.abc]\naccount = "Bank"\n', "Beancount account"),
        ("this is not toml", "TOML"),
    ],
)
def test_bad_values_are_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "ponto.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)


def test_env_api_url_is_checked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(tmp_path / "missing.toml")
    monkeypatch.setenv("PONTO_API_URL", "localhost:8080")
    with pytest.raises(ConfigError):
        config.effective_api_url()
    monkeypatch.setenv("PONTO_API_URL", "http://127.0.0.1:8080/")
    assert config.effective_api_url() == "http://127.0.0.1:8080"


def test_good_values_load(tmp_path: Path) -> None:
    path = tmp_path / "ponto.toml"
    path.write_text(
        "overlap_days = 1\nconsent_warning_days = 0\n" + LINK + "start_date = 2026-01-01\n",
        encoding="utf-8",
    )
    config = load_config(path)
    assert config.overlap_days == 1
    assert str(config.links["abc"].start_date) == "2026-01-01"


# -- retries -------------------------------------------------------------------------------


def test_retries_and_backoff_reach_the_clients_policy(tmp_path: Path) -> None:
    from beancount_ponto.credentials import Credentials, client_for
    from beancount_ponto.ponto.retry import RetryPolicy

    path = tmp_path / "ponto.toml"
    path.write_text("retries = 1\nretry_backoff_seconds = 0.25\n", encoding="utf-8")
    config = load_config(path)
    assert (config.retries, config.retry_backoff_seconds) == (1, 0.25)
    client = client_for(config, Credentials("id", "secret"))
    assert client.retry == RetryPolicy(max_retries=1, backoff_base=0.25)
    default = client_for(load_config(tmp_path / "none.toml"), Credentials("id", "secret"))
    assert default.retry == RetryPolicy()
    save_config(config)
    assert load_config(path).retries == 1  # written back


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("retries = -1\n", "`retries` must be a whole number of at least 0"),
        ('retries = "3"\n', "`retries` must be a whole number"),
        ("retries = true\n", "`retries` must be a whole number"),
        ("retry_backoff_seconds = -0.5\n", "`retry_backoff_seconds` must be a number of seconds"),
        ('retry_backoff_seconds = "1s"\n', "`retry_backoff_seconds` must be a number of seconds"),
        ("retry_backof_seconds = 1\n", "did you mean `retry_backoff_seconds`?"),
        ("retrys = 1\n", "did you mean `retries`?"),
    ],
)
def test_a_wrong_retry_setting_is_named_in_one_line(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "ponto.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert named in str(info.value)
    assert "\n" not in str(info.value)
