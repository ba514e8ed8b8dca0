"""The token, the bind rule and the read-only database."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from monitor.settings import load_settings
from monitor.web.app import create_app
from monitor.web.db import open_readonly
from monitor.web.security import bind_problem, is_loopback
from tests.web.conftest import Filled

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def guarded(filled: Filled) -> TestClient:
    settings = load_settings(**{**filled.settings.model_dump(), "web_token": TOKEN})
    return TestClient(create_app(settings, open_readonly(settings)))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_with_a_token_every_page_needs_it_as_bearer_or_basic_auth(guarded: TestClient) -> None:
    for path in ("/", "/feed.atom", "/api/changes", "/static/style.css", "/search?q=x"):
        refused = guarded.get(path)
        assert refused.status_code == 401, path
        assert refused.headers["www-authenticate"].startswith("Basic realm=")
    assert guarded.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert guarded.get("/", headers={"Authorization": basic("anyone", TOKEN)}).status_code == 200
    for wrong in (f"Bearer {TOKEN}x", basic(TOKEN, "nope"), "Basic %%%", TOKEN, ""):
        assert guarded.get("/", headers={"Authorization": wrong}).status_code == 401


def test_the_liveness_probe_needs_no_token(guarded: TestClient) -> None:
    assert guarded.get("/healthz").text == "ok\n"


def test_binding_off_loopback_needs_a_token() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    assert bind_problem("127.0.0.1", "") is None
    assert bind_problem("0.0.0.0", TOKEN) is None
    problem = bind_problem("0.0.0.0", "")
    assert problem is not None and "CPHMON_WEB_TOKEN" in problem


def test_a_short_token_is_refused_by_the_settings() -> None:
    from monitor.settings import SettingsError

    with pytest.raises(SettingsError, match="CPHMON_WEB_TOKEN: give at least 16 characters"):
        load_settings(web_token="short")


def test_the_web_database_cannot_be_written(filled: Filled) -> None:
    web = open_readonly(filled.settings)
    with web.engine.connect() as connection, pytest.raises(OperationalError, match="readonly"):
        connection.execute(text("DELETE FROM article"))
    web.engine.dispose()


def test_the_daemon_writes_while_the_web_view_holds_a_read_open(filled: Filled) -> None:
    """A WAL reader in the middle of a read transaction does not block a writer."""
    web = open_readonly(filled.settings)
    database = filled.url.removeprefix("sqlite:///")
    with web.engine.connect() as connection:
        connection.exec_driver_sql("BEGIN")
        assert connection.execute(text("SELECT count(*) FROM version")).scalar_one() == 5
        writer = sqlite3.connect(database, timeout=0)  # fail at once if it had to wait
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE lease SET owner = owner")
        writer.execute("COMMIT")
        writer.close()
        connection.exec_driver_sql("COMMIT")
    web.engine.dispose()


def test_a_missing_database_is_one_clear_error(tmp_path: Path) -> None:
    from monitor.db import DatabaseError

    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'none.sqlite3'}")
    with pytest.raises(DatabaseError, match="run `cphpost-monitor db upgrade` first"):
        open_readonly(settings)


def test_a_failing_database_gets_a_500_page_without_a_traceback(
    filled: Filled, tmp_path: Path
) -> None:
    """The database file is replaced by junk after start: every read fails inside a handler."""
    copy = tmp_path / "copy.sqlite3"
    source = sqlite3.connect(filled.url.removeprefix("sqlite:///"))
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    target.close()
    settings = load_settings(
        database_url=f"sqlite:///{copy}",
        data_dir=tmp_path / "data",
        site_url=filled.settings.site_url,
    )
    web = open_readonly(settings)
    web.engine.dispose()  # no connection opened before the file broke
    copy.write_bytes(b"this is not a database " * 512)
    client = TestClient(create_app(settings, web), raise_server_exceptions=False)
    for path in ("/", "/articles/1", "/search?q=asylum", "/feed.atom"):
        response = client.get(path)
        assert response.status_code == 500, path
        assert "Something went wrong" in response.text, path
        assert "Traceback" not in response.text and "sqlite" not in response.text.lower(), path
        assert "default-src 'none'" in response.headers["content-security-policy"], path
    web.engine.dispose()


def test_error_pages_and_feeds_carry_the_security_headers(client: TestClient) -> None:
    for path, status in (("/?page=x", 400), ("/articles/999999", 404), ("/feed.atom", 200)):
        response = client.get(path)
        assert response.status_code == status, path
        assert "default-src 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-content-type-options"] == "nosniff", path
