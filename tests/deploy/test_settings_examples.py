"""deploy/.env.example and deploy/cphpost-monitor.example.toml document the settings model.

Both list every setting of ``monitor.settings.Settings`` exactly once, in the model's order,
with the model's description, a ``Default:`` line that matches the model, and a value that the
model accepts: the default itself, or an example where the default is empty or unset.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from monitor.settings import Settings, read_config_file
from tests.deploy.deployfiles import (
    ENV_PREFIX,
    TOML_EXAMPLE,
    Entry,
    env_entries,
    settings_with,
    toml_entries,
    uncommented_toml,
)

FIELDS = list(Settings.model_fields)
KINDS = ("env", "toml")
DATA_DIR_DEFAULT = "$XDG_DATA_HOME/cphpost-monitor, i.e. ~/.local/share/cphpost-monitor"
# Variables of deploy/compose.yaml documented in the env example; they are not settings.
COMPOSE_VARIABLES = ["POSTGRES_PASSWORD", "POSTGRES_USER", "POSTGRES_DB", "CPHPOST_MONITOR_IMAGE"]


def field_of(entry: Entry, kind: str) -> str:
    return entry.name.removeprefix(ENV_PREFIX).lower() if kind == "env" else entry.name


def settings_entries(kind: str) -> list[Entry]:
    if kind == "env":
        return [e for e in env_entries() if e.name.startswith(ENV_PREFIX)]
    return toml_entries()


def entry_for(kind: str, name: str) -> Entry:
    (entry,) = [e for e in settings_entries(kind) if field_of(e, kind) == name]
    return entry


def model_default(name: str) -> Any:
    return getattr(Settings(), name)


def has_no_default(name: str) -> bool:
    """Empty, unset or computed defaults: the example file shows an example value instead."""
    return name == "data_dir" or model_default(name) in ("", None)


@pytest.mark.parametrize("kind", KINDS)
def test_every_setting_is_listed_once_in_model_order(kind: str) -> None:
    assert [field_of(e, kind) for e in settings_entries(kind)] == FIELDS


def test_env_example_names_nothing_but_settings_and_compose_variables() -> None:
    others = [e.name for e in env_entries() if not e.name.startswith(ENV_PREFIX)]
    assert others == COMPOSE_VARIABLES


@pytest.mark.parametrize("kind", KINDS)
def test_every_setting_is_commented_out(kind: str) -> None:
    """A copy of the example changes nothing until a line is uncommented."""
    assert [e.name for e in settings_entries(kind) if e.active] == []


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("kind", KINDS)
def test_setting_says_what_it_does_with_the_model_description(kind: str, name: str) -> None:
    entry = entry_for(kind, name)
    description = Settings.model_fields[name].description
    assert entry.doc, f"{entry.name} has no comment"
    if description:
        assert entry.doc[0] == description
    else:  # the model has none yet: the example's own sentence
        assert entry.doc[0].endswith(".") and len(entry.doc[0]) > 20


@pytest.mark.parametrize("name", FIELDS)
@pytest.mark.parametrize("kind", KINDS)
def test_documented_default_is_the_model_default(kind: str, name: str) -> None:
    text = entry_for(kind, name).default_text
    assert text is not None, "no 'Default: ...' comment line"
    default = model_default(name)
    if name == "data_dir":
        assert text == DATA_DIR_DEFAULT
    elif default is None:
        assert text == "unset"
    elif default == "":
        assert text.startswith("empty")
    else:
        assert getattr(settings_with(name, text), name) == default


def test_data_dir_default_is_what_the_examples_say(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Settings().data_dir == tmp_path / "cphpost-monitor"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert Settings().data_dir == Path.home() / ".local" / "share" / "cphpost-monitor"


@pytest.mark.parametrize("name", FIELDS)
def test_env_value_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    entry = entry_for("env", name)
    default, no_default = model_default(name), has_no_default(name)
    monkeypatch.setenv(entry.name, entry.value)
    value = getattr(Settings(), name)
    if no_default:
        assert value != default
    else:
        assert value == default


@pytest.mark.parametrize("name", FIELDS)
def test_toml_value_is_valid(name: str) -> None:
    entry = entry_for("toml", name)
    parsed = tomllib.loads(f"{name} = {entry.value}")[name]
    value = getattr(settings_with(name, parsed), name)
    if has_no_default(name):
        assert value != model_default(name)
    else:
        assert value == model_default(name)


def test_toml_example_as_shipped_is_a_valid_config_file() -> None:
    values = read_config_file(TOML_EXAMPLE)
    assert values == {}
    Settings(**values)


def test_toml_example_with_every_setting_switched_on_is_a_valid_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(uncommented_toml(), encoding="utf-8")
    values = read_config_file(path)
    assert list(values) == FIELDS
    expected = Settings(**values)
    monkeypatch.setenv(f"{ENV_PREFIX}CONFIG", str(path))
    assert Settings() == expected
    assert expected.database_url.startswith("postgresql+psycopg://")


def test_env_example_with_every_setting_switched_on_is_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for entry in settings_entries("env"):
        monkeypatch.setenv(entry.name, entry.value)
    loaded = Settings()
    assert loaded.data_dir == Path("/var/lib/cphpost-monitor")
    assert loaded.notify_urls == entry_for("env", "notify_urls").value


def test_env_example_as_shipped_sets_only_the_compose_password_left_empty() -> None:
    assert {e.name: e.value for e in env_entries() if e.active} == {"POSTGRES_PASSWORD": ""}


def test_env_example_values_are_read_alike_by_compose_systemd_and_docker_run() -> None:
    """No quotes (docker run keeps them), no $ (compose expands it), no backslash (systemd
    unescapes it), no " #" (compose starts a comment there), no padding."""
    for entry in env_entries():
        assert entry.value == entry.value.strip(), entry.name
        for bad in ('"', "'", "$", "\\", " #"):
            assert bad not in entry.value, f"{entry.name} holds {bad!r}"


_USERINFO_PASSWORD = re.compile(r"://[^/@\s:]+:(?P<password>[^@\s]+)@")


@pytest.mark.parametrize("name", ["notify_urls", "database_url"])
@pytest.mark.parametrize("kind", KINDS)
def test_example_secrets_are_placeholders(kind: str, name: str) -> None:
    value = entry_for(kind, name).value.strip('"')
    urls = [
        item.split("=", 1)[-1] if "=" in item.split("://")[0] else item for item in value.split()
    ]
    assert urls
    for url in urls:
        assert "CHANGE_ME" in url, url
        for match in _USERINFO_PASSWORD.finditer(url):
            assert match["password"] == "CHANGE_ME", url
        if url.startswith("slack://"):
            assert url.split("://")[1].split("/#")[0].split("/") == ["CHANGE_ME"] * 3
