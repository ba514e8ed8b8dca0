"""Who may read the web view, and what a browser may do with its pages.

- :class:`TokenAuth`: with ``CPHMON_WEB_TOKEN`` set, every request but ``/healthz`` needs it,
  as ``Authorization: Bearer TOKEN`` or as the password of basic auth (feed readers and browsers
  speak basic auth; the user name is ignored). Compared in constant time.
- :class:`SecurityHeaders`: a strict Content-Security-Policy (no scripts at all, styles only from
  this origin's stylesheet, no frames, forms only to this origin), no sniffing, no referrer.
- :func:`bind_problem`: binding anything but loopback without a token is refused.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
OPEN_PATHS = frozenset({"/healthz"})


def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def bind_problem(host: str, token: str) -> str | None:
    """Why the web view must not start on ``host``, or None."""
    if token or is_loopback(host):
        return None
    return (
        f"the web view binds {host}, which is not loopback: set CPHMON_WEB_TOKEN "
        "(at least 16 characters, e.g. `openssl rand -hex 24`) or bind 127.0.0.1"
    )


def token_matches(authorization: str, token: str) -> bool:
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        given = credentials
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        given = decoded.partition(":")[2]
    else:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


class TokenAuth:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.token or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if token_matches(Headers(scope=scope).get("authorization", ""), self.token):
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse(
            "401 Unauthorized: this web view needs its token (bearer or basic auth).\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="cphpost-monitor", charset="UTF-8"'},
        )
        await response(scope, receive, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
