"""``cphpost-monitor alerts test`` and ``alerts list`` against real local receivers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from monitor.alerts.deliver import deliver_due
from monitor.alerts.targets import load_targets
from monitor.cli.alerts import alerts_app
from monitor.cli.common import UserError
from monitor.settings import load_settings
from tests.alerts.conftest import T0, HTTPReceiver, SMTPReceiver
from tests.alerts.helpers import add_alert

PASSWORD = "Pa55w0rdSecret"
runner = CliRunner()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db_url: str) -> pytest.MonkeyPatch:
    monkeypatch.setenv("CPHMON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CPHMON_DATABASE_URL", db_url)
    monkeypatch.setenv("CPHMON_NOTIFY_TIMEOUT", "1")
    monkeypatch.setenv("CPHMON_DELIVERY_MAX_ATTEMPTS", "1")
    return monkeypatch


def test_alerts_test_against_a_404_webhook_fails_with_exit_1(
    env: pytest.MonkeyPatch, webhook: HTTPReceiver
) -> None:
    env.setenv("CPHMON_NOTIFY_URLS", webhook.url(userinfo=f"hook:{PASSWORD}"))
    webhook.status = 404
    result = runner.invoke(alerts_app, ["test"])
    assert result.exit_code == 1
    assert "FAILED" in result.output and "1 of 1 targets failed" in result.output
    assert PASSWORD not in result.output
    assert len(webhook.requests) == 1


def test_alerts_test_reports_each_target_and_exits_0_when_all_succeed(
    env: pytest.MonkeyPatch, webhook: HTTPReceiver, smtp: SMTPReceiver
) -> None:
    env.setenv("CPHMON_NOTIFY_URLS", f"{webhook.url()} {smtp.url()}")
    result = runner.invoke(alerts_app, ["test"])
    assert result.exit_code == 0, result.output
    assert result.output.count("ok") >= 2 and "FAILED" not in result.output
    assert webhook.requests[0].json()["title"] == "cphpost-monitor test notification"
    assert smtp.messages[0]["Subject"] == "cphpost-monitor test notification"


def test_alerts_test_with_a_tag_sends_only_to_targets_carrying_it(
    env: pytest.MonkeyPatch, webhook: HTTPReceiver, smtp: SMTPReceiver
) -> None:
    env.setenv("CPHMON_NOTIFY_URLS", f"ops={webhook.url()} {smtp.url()}")
    result = runner.invoke(alerts_app, ["test", "--tag", "ops"])
    assert result.exit_code == 0, result.output
    assert len(webhook.requests) == 1 and smtp.messages == []


def test_alerts_test_without_targets_says_so_and_exits_1(env: pytest.MonkeyPatch) -> None:
    result = runner.invoke(alerts_app, ["test"])
    assert result.exit_code == 1
    assert "no notification target is configured" in result.output


def test_alerts_test_with_a_tag_nobody_carries_exits_1(
    env: pytest.MonkeyPatch, webhook: HTTPReceiver
) -> None:
    env.setenv("CPHMON_NOTIFY_URLS", webhook.url())
    result = runner.invoke(alerts_app, ["test", "--tag", "ops"])
    assert result.exit_code == 1
    assert "no notification target carries the tag 'ops'" in result.output
    assert webhook.requests == []


def test_a_bad_notify_url_is_a_user_error_without_the_secret(env: pytest.MonkeyPatch) -> None:
    env.setenv("CPHMON_NOTIFY_URLS", "slack://T0SECRET1/onlyone")
    result = runner.invoke(alerts_app, ["test"])
    assert isinstance(result.exception, UserError)
    assert "T0SECRET1" not in str(result.exception) and "onlyone" not in str(result.exception)


def _outbox(engine: Engine, webhook: HTTPReceiver, env: pytest.MonkeyPatch) -> None:
    """Two alerts: one sent, one failed (404) with its error recorded."""
    url = f"{webhook.url('json', '/ok', f'hook:{PASSWORD}')} asylum={webhook.url('json', '/bad')}"
    env.setenv("CPHMON_NOTIFY_URLS", url)
    s = load_settings()
    targets = load_targets(s)
    add_alert(engine, targets, T0, key="a", topics=["work_permits"], title="Labour story")
    add_alert(engine, targets, T0, key="b", topics=["asylum"], title="Asylum <b>story</b>")
    webhook.statuses = [200, 200, 404]
    deliver_due(engine, s, owner="test", now=T0)


def test_alerts_list_json_shows_alerts_and_masked_deliveries(
    env: pytest.MonkeyPatch, engine: Engine, webhook: HTTPReceiver
) -> None:
    _outbox(engine, webhook, env)
    result = runner.invoke(alerts_app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    newest, oldest = json.loads(result.stdout)
    assert (newest["title"], oldest["title"]) == ("Asylum <b>story</b>", "Labour story")
    assert [(d["target_url"], d["status"]) for d in newest["deliveries"]] == [
        (f"json://***@127.0.0.1:{webhook.port}/***", "sent"),
        (f"json://127.0.0.1:{webhook.port}/***", "failed"),
    ]
    assert "404" in newest["deliveries"][1]["last_error"]
    assert PASSWORD not in result.stdout


def test_alerts_list_failed_shows_only_alerts_with_a_failed_delivery(
    env: pytest.MonkeyPatch, engine: Engine, webhook: HTTPReceiver
) -> None:
    _outbox(engine, webhook, env)
    result = runner.invoke(alerts_app, ["list", "--failed", "--json"])
    assert [a["title"] for a in json.loads(result.stdout)] == ["Asylum <b>story</b>"]
    pending = runner.invoke(alerts_app, ["list", "--pending", "--json"])
    assert json.loads(pending.stdout) == []


def test_alerts_list_table_never_shows_a_secret(
    env: pytest.MonkeyPatch, engine: Engine, webhook: HTTPReceiver
) -> None:
    _outbox(engine, webhook, env)
    result = runner.invoke(alerts_app, ["list"])
    assert result.exit_code == 0, result.output
    assert "Labour story" in result.output and "failed" in result.output
    assert PASSWORD not in result.output


def test_alerts_list_on_a_database_without_schema_is_a_user_error(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("CPHMON_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    result = runner.invoke(alerts_app, ["list"])
    assert isinstance(result.exception, UserError)
    assert "db upgrade" in str(result.exception)
