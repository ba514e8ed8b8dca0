"""Local receivers for alerts: an SMTP server and an HTTP webhook endpoint, both breakable.

Tests hand the service apprise URLs that point here (``SMTPSink.apprise_url()``,
``WebhookSink.json_url()``), then read what arrived. Failure modes model what real receivers
do: refuse connections, accept and never answer, answer with errors. Slack's apprise plugin
always posts to Slack's own host, so :func:`slack_to` re-points it at a sink in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, TypeVar
from unittest import mock
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

T = TypeVar("T")


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait(cond: threading.Condition, ready: Callable[[], T | None], what: str, timeout: float) -> T:
    deadline = time.monotonic() + timeout
    with cond:
        while (result := ready()) is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{what} within {timeout} s")
            cond.wait(left)
        return result


# SMTP ---------------------------------------------------------------------------------------


class SMTPEnvelope(NamedTuple):
    mail_from: str
    rcpt_tos: list[str]


class _SMTPHandler:
    def __init__(self, sink: SMTPSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sink = self.sink
        if sink._hanging:
            release = asyncio.Event()
            loop = asyncio.get_running_loop()
            with sink._cond:
                sink.hung += 1
                sink._releases.append(lambda: loop.call_soon_threadsafe(release.set))
            await release.wait()
            return "451 4.3.0 Released after a hang; message not accepted"
        with sink._cond:
            if sink._reject is not None:
                code, remaining = sink._reject
                if remaining is not None:
                    sink._reject = (code, remaining - 1) if remaining > 1 else None
                return f"{code} {'4.3.0' if code < 500 else '5.7.1'} Rejected by the test sink"
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with sink._cond:
            sink._messages.append(message)
            sink._envelopes.append(SMTPEnvelope(envelope.mail_from or "", list(envelope.rcpt_tos)))
            sink._cond.notify_all()
        return "250 2.0.0 OK"


class SMTPSink:
    """Plain SMTP on 127.0.0.1 (no TLS, no auth) that keeps every message it accepts.

    Modes: :meth:`refuse` (stop listening: connection refused), :meth:`hang` (accept, then never
    answer DATA until :meth:`recover`), :meth:`reject` (4xx/5xx to DATA), :meth:`recover`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port or _free_port(host)
        self._cond = threading.Condition()
        self._messages: list[EmailMessage] = []
        self._envelopes: list[SMTPEnvelope] = []
        self._controller: Controller | None = None
        self._hanging = False
        self._releases: list[Callable[[], Any]] = []
        self._reject: tuple[int, int | None] | None = None
        self.hung = 0  # DATA commands held by hang() so far

    def start(self) -> SMTPSink:
        if self._controller is None:
            controller = Controller(
                _SMTPHandler(self), hostname=self.host, port=self.port, ready_timeout=5.0
            )
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        self._release_hung()
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> SMTPSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def apprise_url(
        self,
        to: str = "alerts@example.org",
        *,
        sender: str = "monitor@example.org",
        timeout: float | None = None,
    ) -> str:
        """``mailto://`` URL delivering here; ``timeout`` becomes apprise's ``cto`` (default 15 s,
        which is also how long a hung server blocks a notify())."""
        url = f"mailto://{self.host}:{self.port}?from={quote(sender)}&to={quote(to)}"
        return url + (f"&cto={timeout:g}" if timeout is not None else "")

    @property
    def messages(self) -> list[EmailMessage]:
        with self._cond:
            return list(self._messages)

    @property
    def envelopes(self) -> list[SMTPEnvelope]:
        with self._cond:
            return list(self._envelopes)

    def wait_for(self, n: int = 1, timeout: float = 5.0) -> list[EmailMessage]:
        """At least ``n`` messages (all of them), or TimeoutError."""

        def ready() -> list[EmailMessage] | None:
            return list(self._messages) if len(self._messages) >= n else None

        return _wait(self._cond, ready, f"{n} messages", timeout)

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()
            self._envelopes.clear()

    def refuse(self) -> None:
        """Stop listening: connections are refused until :meth:`recover`."""
        self.stop()

    def hang(self) -> None:
        """Accept connections and envelopes but never answer DATA until :meth:`recover`."""
        self._hanging = True

    def reject(self, code: int = 451, times: int | None = None) -> None:
        """Answer DATA with ``code`` (4xx transient, 5xx permanent), ``times`` times or always."""
        with self._cond:
            self._reject = (code, times)

    def recover(self) -> None:
        """Back to normal: listening again, hung sessions released (with a 451), no rejects."""
        self._hanging = False
        with self._cond:
            self._reject = None
        self._release_hung()
        self.start()

    def _release_hung(self) -> None:
        with self._cond:
            releases, self._releases = self._releases, []
        for release in releases:
            with contextlib.suppress(RuntimeError):  # loop already closed
                release()


# Webhooks -----------------------------------------------------------------------------------


class WebhookRequest(NamedTuple):
    """One request to the webhook sink; headers have lower-case names."""

    time: float  # time.monotonic() at arrival
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any  # parsed body, None when not JSON
    status: int | None  # what the sink answered; None when it hung up without answering


class _WebhookServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    sink: WebhookSink

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients giving up on a hung sink is expected: no traceback."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _WebhookHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _WebhookServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the sink keeps its own record."""

    def do_POST(self) -> None:
        self._receive()

    do_PUT = do_PATCH = do_GET = do_POST

    def _receive(self) -> None:
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        sink = self.server.sink
        action, status = sink._next_action()
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = WebhookRequest(arrived, self.command, self.path, headers, body, parsed, None)
        if action is not None:  # hang: hold the request, then hang up without a word
            sink._record(request)
            sink._released.wait(action)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        sink._record(request._replace(status=status))
        reply = b"ok" if status < 300 else b"error"  # Slack's webhooks answer a bare "ok"
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)


class WebhookSink:
    """HTTP endpoint on 127.0.0.1 recording every request; for apprise ``json://`` and Slack.

    ``requests`` holds every attempt (``status`` says how it was answered); ``delivered`` only
    those answered 2xx. Modes: :meth:`fail`, :meth:`hang`, :meth:`recover`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self._port = host, port
        self._cond = threading.Condition()
        self._requests: list[WebhookRequest] = []
        self._mode: tuple[str, float, int | None] | None = None  # (kind, value, remaining)
        self._released = threading.Event()
        self._server: _WebhookServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebhookSink:
        if self._server is None:
            self._released.clear()
            server = _WebhookServer((self.host, self._port), _WebhookHandler)
            server.sink = self
            self._port = int(server.server_address[1])
            self._server = server
            self._thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            self._thread.name = f"webhook-sink-{self._port}"
            self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self._port}"

    def url(self, path: str = "/hook") -> str:
        return self.origin + path

    def json_url(self, path: str = "/hook") -> str:
        """apprise URL posting JSON here (``json://`` is plain HTTP)."""
        return f"json://{self.host}:{self._port}{path}"

    @property
    def requests(self) -> list[WebhookRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def delivered(self) -> list[WebhookRequest]:
        with self._cond:
            return [r for r in self._requests if r.status is not None and r.status < 300]

    def wait_for(self, n: int = 1, timeout: float = 5.0) -> list[WebhookRequest]:
        """At least ``n`` delivered requests (all of them), or TimeoutError."""

        def ready() -> list[WebhookRequest] | None:
            done = [r for r in self._requests if r.status is not None and r.status < 300]
            return done if len(done) >= n else None

        return _wait(self._cond, ready, f"{n} delivered webhook requests", timeout)

    def clear(self) -> None:
        with self._cond:
            self._requests.clear()

    def fail(self, status: int = 500, times: int | None = None) -> None:
        """Answer ``status`` to the next ``times`` requests (all, when None)."""
        with self._cond:
            self._mode = ("fail", float(status), times)

    def hang(self, seconds: float = 30.0, times: int | None = None) -> None:
        """Hold requests ``seconds`` (or until :meth:`recover`), then hang up without answering."""
        with self._cond:
            self._released.clear()
            self._mode = ("hang", float(seconds), times)

    def recover(self) -> None:
        """Answer 200 again and let held requests go (unanswered)."""
        with self._cond:
            self._mode = None
        self._released.set()

    def _next_action(self) -> tuple[float | None, int]:
        """(seconds to hang or None, status to answer) for an arriving request."""
        with self._cond:
            if self._mode is None:
                return None, 200
            kind, value, remaining = self._mode
            if remaining is not None:
                self._mode = (kind, value, remaining - 1) if remaining > 1 else None
            return (value, 0) if kind == "hang" else (None, int(value))

    def _record(self, request: WebhookRequest) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()


# Slack ----------------------------------------------------------------------------------------


def slack_url(token_a: str = "T000", token_b: str = "B000", token_c: str = "XXXX") -> str:
    """A syntactically valid apprise Slack webhook URL."""
    return f"slack://{token_a}/{token_b}/{token_c}"


@contextlib.contextmanager
def slack_to(sink: WebhookSink) -> Iterator[WebhookSink]:
    """Make apprise's Slack plugin post to ``sink`` (path ``/services/A/B/C``) in this process.

    apprise builds the webhook address from ``NotifySlack.webhook_url`` (class attribute,
    ``https://hooks.slack.com/services``); subprocesses are not affected: use json:// there.
    """
    from apprise.plugins.slack import NotifySlack

    with mock.patch.object(NotifySlack, "webhook_url", sink.origin + "/services"):
        yield sink
