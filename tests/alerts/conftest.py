"""Fixtures for the alert tests: a migrated SQLite outbox and real local receivers.

The receivers are real servers on 127.0.0.1: an aiosmtpd SMTP server, and a threaded HTTP server
that plays a JSON webhook or Slack's incoming-webhook endpoint (apprise's Slack plugin is
pointed at it). Each records what it received and can be told to fail, refuse or hang.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import Engine

from monitor.db import engine_for, upgrade
from monitor.settings import Settings, load_settings

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CPHMON_* variable of the machine running the tests may leak into them."""
    for name in list(os.environ):
        if name.startswith("CPHMON_"):
            monkeypatch.delenv(name)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = engine_for(db_url)
    yield engine
    engine.dispose()


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(tmp_path: Path, db_url: str) -> SettingsFactory:
    """Settings for a test: short timeouts, a 60 s first backoff, 3 attempts."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path / "data",
            "database_url": db_url,
            "notify_timeout": 1.0,
            "delivery_backoff": 60.0,
            "delivery_max_attempts": 3,
        }
        values.update(overrides)
        return load_settings(**values)

    return make


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# SMTP ------------------------------------------------------------------------------------------


@dataclass
class SMTPReceiver:
    """An aiosmtpd server; ``refuse`` makes it answer DATA with a temporary failure."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    refuse: bool = False
    controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def url(self, **query: str) -> str:
        params = {"from": "monitor@example.org", "to": "desk@example.org", **query}
        return f"mailto://127.0.0.1:{self.port}?" + "&".join(f"{k}={v}" for k, v in params.items())


@pytest.fixture
def smtp() -> Iterator[SMTPReceiver]:
    receiver = SMTPReceiver(port=free_port())
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp_down() -> Iterator[SMTPReceiver]:
    """A receiver whose port is free (connections refused) until the test calls ``start()``."""
    receiver = SMTPReceiver(port=free_port())
    yield receiver
    receiver.stop()


# HTTP ------------------------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int | None = None  # the status sent back; None while hanging

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HTTPReceiver:
    """A local webhook: records every request; answers ``statuses`` in turn, then ``status``."""

    port: int = 0
    requests: list[Request] = field(default_factory=list)
    status: int = 200
    statuses: list[int] = field(default_factory=list)
    hang: threading.Event | None = None  # while set to an unset Event, requests never answer
    released: threading.Event = field(default_factory=threading.Event)

    @property
    def delivered(self) -> list[Request]:
        """Requests answered with a 2xx (what a real receiver would have accepted)."""
        return [r for r in self.requests if r.answered is not None and r.answered // 100 == 2]

    def url(self, scheme: str = "json", path: str = "/hook", userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{at}127.0.0.1:{self.port}{path}"


def _handler(receiver: HTTPReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(self.path, dict(self.headers.items()), self.rfile.read(length))
            receiver.requests.append(request)
            if receiver.hang is not None:
                receiver.released.wait(10)
                return
            status = receiver.statuses.pop(0) if receiver.statuses else receiver.status
            request.answered = status
            body = b"ok"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def webhook() -> Iterator[HTTPReceiver]:
    receiver = HTTPReceiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield receiver
    receiver.released.set()
    server.shutdown()
    server.server_close()


SLACK_TOKENS = "T0SECRET1/B0SECRET2/XsecretSlackToken0123456789"


@pytest.fixture
def slack(webhook: HTTPReceiver, monkeypatch: pytest.MonkeyPatch) -> HTTPReceiver:
    """Apprise's Slack plugin posting to the local receiver instead of hooks.slack.com."""
    from apprise.plugins.slack import NotifySlack

    monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{webhook.port}/services")
    return webhook


def slack_url() -> str:
    return f"slack://{SLACK_TOKENS}"


# Hanging TCP server (accepts, never speaks) --------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and then says nothing (a hung SMTP server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(2)
    for conn in held:
        conn.close()
    listener.close()
