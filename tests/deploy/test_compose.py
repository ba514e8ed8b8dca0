"""deploy/compose.yaml: the monitor on its own PostgreSQL, scalable with --scale worker=N.

Read with PyYAML (merge keys included) and compose's variable substitution, resolved against
deploy/.env.example the way compose reads deploy/.env; no Docker engine involved.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.settings import Settings
from tests.deploy.deployfiles import (
    COMPOSE,
    DEPLOY,
    ENV_EXAMPLE,
    ENV_PREFIX,
    REPO,
    InterpolationError,
    active_env,
    env_entries,
    interpolate,
    references,
    settings_with,
)

APP_SERVICES = ("migrate", "worker", "web")
PASSWORD = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def dotenv_with_password() -> dict[str, str]:
    return {**active_env(), "POSTGRES_PASSWORD": PASSWORD}


def resolved(value: str) -> str:
    return interpolate(value, dotenv_with_password())


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)(s|m)", duration)
    assert match, duration
    return int(match[1]) * (60 if match[2] == "m" else 1)


def test_services_are_postgres_a_one_shot_migration_the_worker_and_the_web_view(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    assert compose["name"] == "cphpost-monitor"
    assert set(services) == {"postgres", "migrate", "worker", "web"}


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_run_the_image_built_from_the_repository_root(
    services: dict[str, Any], service: str
) -> None:
    spec = services[service]
    assert resolved(spec["image"]) == "cphpost-monitor:latest"
    assert spec["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    context = (DEPLOY / spec["build"]["context"]).resolve()
    assert context == REPO
    assert (context / spec["build"]["dockerfile"]).is_file()


def test_migrate_upgrades_the_schema_once_after_postgres_is_healthy(
    services: dict[str, Any],
) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["healthcheck"] == {"disable": True}


def test_worker_runs_the_daemon_after_the_migration_completed(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert worker["command"] == ["run"]
    assert worker["restart"] == "unless-stopped"
    assert worker["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "healthcheck" not in worker  # the image's: cphpost-monitor status --quiet


def test_worker_scales_without_name_or_host_port_clashes(services: dict[str, Any]) -> None:
    for name, spec in services.items():
        assert "container_name" not in spec, name
        assert "ports" not in spec or name == "web", name
    worker = services["worker"]
    assert "ports" not in worker
    assert "network_mode" not in worker
    port = worker["environment"]["CPHMON_HEALTH_PORT"]
    assert worker["environment"]["CPHMON_HEALTH_HOST"] == "0.0.0.0"
    assert worker["expose"] == [port]


def test_worker_gets_time_to_stop_after_sigterm(services: dict[str, Any]) -> None:
    # the daemon exits within 10 s of SIGTERM
    assert seconds(services["worker"]["stop_grace_period"]) >= 15
    assert services["worker"]["init"] is True


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_use_postgres_through_psycopg(services: dict[str, Any], service: str) -> None:
    environment = services[service]["environment"]
    url = resolved(environment["CPHMON_DATABASE_URL"])
    assert url == f"postgresql+psycopg://cphpost:{PASSWORD}@postgres:5432/cphpost"
    postgres = {k: resolved(v) for k, v in services["postgres"]["environment"].items()}
    assert url == (
        f"postgresql+psycopg://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{postgres['POSTGRES_DB']}"
    )
    assert Settings(database_url=url).effective_database_url == url


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_take_settings_from_the_env_file_and_keep_data_in_a_volume(
    compose: dict[str, Any], services: dict[str, Any], service: str
) -> None:
    spec = services[service]
    assert spec["env_file"] == ".env"
    assert (DEPLOY / ".env.example").is_file()
    assert spec["environment"]["CPHMON_DATA_DIR"] == "/data"
    assert spec["volumes"] == ["data:/data"]
    assert "data" in compose["volumes"]
    for name in spec["environment"]:
        assert name.startswith(ENV_PREFIX) and name.removeprefix(ENV_PREFIX).lower() in (
            Settings.model_fields
        ), name
        settings_with(name.removeprefix(ENV_PREFIX).lower(), resolved(spec["environment"][name]))


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_services_are_unprivileged(services: dict[str, Any], service: str) -> None:
    spec = services[service]
    assert spec["cap_drop"] == ["ALL"]
    assert spec["security_opt"] == ["no-new-privileges:true"]


def test_postgres_keeps_its_data_in_a_volume_and_reports_health(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    postgres = services["postgres"]
    assert re.fullmatch(r"postgres:\d+", postgres["image"])
    assert postgres["volumes"] == ["pgdata:/var/lib/postgresql/data"]
    assert "pgdata" in compose["volumes"]
    test = postgres["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    # $$ reaches the container as $, expanded by its shell from its own environment
    assert resolved(test[1]) == 'pg_isready -U "$POSTGRES_USER" -d "$POSTGRES_DB"'
    assert "ports" not in postgres


def test_compose_refuses_to_start_without_a_postgres_password() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    with pytest.raises(InterpolationError, match=r"POSTGRES_PASSWORD.*deploy/\.env"):
        interpolate(text, active_env())  # as shipped: POSTGRES_PASSWORD= (empty)
    interpolate(text, dotenv_with_password())


def test_every_compose_variable_is_documented_in_the_env_example_with_its_default() -> None:
    documented = {e.name: e for e in env_entries(ENV_EXAMPLE)}
    for ref in references(COMPOSE.read_text(encoding="utf-8")):
        assert ref.name in documented, f"${{{ref.name}}} is not in .env.example"
        entry = documented[ref.name]
        if ref.op == ":-":
            assert entry.default_text == ref.arg, ref.name
            assert entry.value == ref.arg, ref.name
        else:
            assert ref.op == ":?", f"${{{ref.name}}} needs a default or must be required"
            assert entry.active, f"required {ref.name} must be an uncommented line"


def test_the_env_file_with_secrets_is_never_committed() -> None:
    ignore = (DEPLOY / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert ".env" in ignore
    assert not Path(DEPLOY / ".env.example").match(".env")


def test_web_serves_the_read_only_view_only_when_its_profile_is_asked_for(
    services: dict[str, Any],
) -> None:
    web = services["web"]
    assert web["command"] == ["web"]
    assert web["profiles"] == ["web"]
    assert web["restart"] == "unless-stopped"
    assert web["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }


def test_web_binds_all_interfaces_in_the_container_so_it_needs_the_token_from_the_env_file(
    services: dict[str, Any],
) -> None:
    from monitor.web.security import bind_problem

    environment = services["web"]["environment"]
    assert environment["CPHMON_WEB_HOST"] == "0.0.0.0"
    assert "CPHMON_WEB_TOKEN" not in environment  # a secret: only in deploy/.env
    assert bind_problem(environment["CPHMON_WEB_HOST"], "") is not None
    documented = {e.name for e in env_entries(ENV_EXAMPLE)}
    assert "CPHMON_WEB_TOKEN" in documented


def test_web_is_published_on_the_hosts_loopback_only(services: dict[str, Any]) -> None:
    web = services["web"]
    port = web["environment"]["CPHMON_WEB_PORT"]
    assert web["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_web_health_is_probed_on_its_own_healthz(services: dict[str, Any]) -> None:
    test = services["web"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    port = services["web"]["environment"]["CPHMON_WEB_PORT"]
    assert f"http://127.0.0.1:{port}/healthz" in test[3]
    compile(test[3], "healthcheck", "exec")
