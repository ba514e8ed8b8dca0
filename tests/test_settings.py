"""Settings: environment, TOML file, defaults, and one clear line for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.settings import SettingsError, load_settings, mask_secret_url, parse_duration


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("CPHMON_"):
            monkeypatch.delenv(key)


def test_defaults_watch_the_real_site_politely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    s = load_settings()
    assert (s.site_url, s.poll_interval, s.rate_limit) == ("https://cphpost.dk", 600.0, 1.0)
    assert (
        s.effective_database_url == f"sqlite:///{tmp_path}/cphpost-monitor/cphpost-monitor.sqlite3"
    )


def test_environment_variables_use_the_cphmon_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPHMON_SITE_URL", "http://127.0.0.1:8123/")
    monkeypatch.setenv("CPHMON_POLL_INTERVAL", "5m")
    s = load_settings()
    assert (s.site_url, s.poll_interval) == ("http://127.0.0.1:8123", 300.0)


def test_a_toml_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.toml"
    config.write_text('rate_limit = 0.25\npoll_interval = "1h"\n')
    monkeypatch.setenv("CPHMON_CONFIG", str(config))
    monkeypatch.setenv("CPHMON_POLL_INTERVAL", "120")
    s = load_settings()
    assert (s.rate_limit, s.poll_interval) == (0.25, 120.0)


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        (
            "CPHMON_SITE_URL",
            "cphpost.dk",
            "setting CPHMON_SITE_URL: 'cphpost.dk' is not an http(s) URL",
        ),
        ("CPHMON_RATE_LIMIT", "fast", "setting CPHMON_RATE_LIMIT: Input should be a valid number"),
        ("CPHMON_POLL_INTERVAL", "soon", "setting CPHMON_POLL_INTERVAL: 'soon' is not a duration"),
        ("CPHMON_DATABASE_URL", "mysql://x/y", "setting CPHMON_DATABASE_URL: only sqlite"),
        ("CPHMON_RECHECK_SCHEDULE", "1h:5m", "setting CPHMON_RECHECK_SCHEDULE: the last step"),
    ],
)
def test_a_bad_setting_names_itself_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, message: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_an_unknown_key_in_the_config_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("rate_limt = 2\n")
    monkeypatch.setenv("CPHMON_CONFIG", str(config))
    with pytest.raises(SettingsError, match="unknown setting 'rate_limt'"):
        load_settings()


def test_a_missing_or_broken_config_file_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CPHMON_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings()
    broken = tmp_path / "broken.toml"
    broken.write_text("rate_limit = [\n")
    monkeypatch.setenv("CPHMON_CONFIG", str(broken))
    with pytest.raises(SettingsError, match="is not valid TOML"):
        load_settings()


@pytest.mark.parametrize(
    ("text", "seconds"), [("600", 600), ("10m", 600), ("1.5h", 5400), ("7d", 604800), (30, 30)]
)
def test_durations_accept_units(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("mailtos://user:secret@smtp.example.org?to=a@b.org", "mailtos://***@smtp.example.org?***"),
        ("slack://T000/B000/XXXXSECRET", "slack://***/***"),
        ("json://127.0.0.1:9000/hook", "json://127.0.0.1:9000/***"),
    ],
)
def test_masking_hides_credentials_paths_and_queries(url: str, masked: str) -> None:
    assert mask_secret_url(url) == masked


def test_masking_a_token_in_the_port_position_hides_it() -> None:
    assert mask_secret_url("tgram://123456:AAbbCCsecret/987") == "tgram://***/***"


def test_the_chosen_site_supplies_the_origin_feeds_and_sitemap_nobody_set() -> None:

    default = load_settings()
    gazette = load_settings(site="tests.sites.gazette")
    mirrored = load_settings(site="tests.sites.gazette", site_url="http://127.0.0.1:9")

    assert (default.scraper.name, default.site_url, default.sitemap_path) == (
        "cphpost",
        "https://cphpost.dk",
        "/sitemap_index.xml",
    )
    assert (gazette.scraper.name, gazette.site_url, gazette.feed_paths) == (
        "gazette",
        "https://gazette.example",
        ("/rss.xml",),
    )
    assert (mirrored.site_url, mirrored.sitemap_path) == ("http://127.0.0.1:9", "/sitemaps.xml")


def test_an_unknown_site_is_one_line_naming_the_setting() -> None:

    with pytest.raises(SettingsError) as caught:
        load_settings(site="nosuchsite")

    assert str(caught.value) == (
        "setting CPHMON_SITE: no site 'nosuchsite': cannot import scrapers.nosuchsite "
        "(No module named 'scrapers.nosuchsite')"
    )
