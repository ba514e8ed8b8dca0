"""Polite HTTP: one async client per run, robots.txt, a rate limit, retries, conditional GETs.

Every request goes to the configured site (``CPHMON_SITE_URL``). Redirects are followed by hand
so that each hop is rate-limited and an off-site redirect is refused. Failures come back as
values (:class:`FetchResult` with ``error`` set), never as exceptions: a flaky site is normal.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego

from monitor.settings import Settings
from scrapers.cphpost import same_site

log = logging.getLogger(__name__)

ROBOTS_TTL = 86400.0
ROBOTS_RETRY = 300.0
MAX_REDIRECTS = 5
MAX_RETRY_AFTER = 120.0  # longer waits are not slept: the check is postponed instead
MAX_LATE_SLOTS = 5  # slots a request may miss (woken too late) before it goes anyway
LATE_SLACK = 0.01  # lateness always tolerated: one database round trip to reserve a slot
ROBOTS_AGENT = "cphpost-monitor"

Accept = Literal["html", "xml", "text"]
_ACCEPT_HEADERS = {
    "html": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "xml": "application/rss+xml,application/xml,text/xml;q=0.9,*/*;q=0.1",
    "text": "text/plain,*/*;q=0.1",
}
_ALLOWED_TYPES = {
    "html": ("text/html", "application/xhtml+xml"),
    "xml": ("application/rss+xml", "application/xml", "text/xml", "application/atom+xml"),
    "text": ("text/plain",),
}
RETRYABLE_STATUS = {429, 500, 502, 503, 504}


@dataclass(slots=True)
class FetchResult:
    """What one logical fetch (redirects and retries included) came to."""

    url: str
    final_url: str
    status: int | None = None  # None: no HTTP answer (network error, refused by policy)
    body: bytes = b""
    encoding: str | None = None
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    permanent_redirect: bool = False  # every hop was 301/308
    error: str | None = None  # set for every outcome that is not a usable answer
    retry_after: float | None = None  # seconds the site asked us to wait
    elapsed: float = 0.0
    attempts: int = 0
    redirects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304

    @property
    def missing(self) -> bool:
        """404 or 410: the article may be gone (confirmed only by a second fetch later)."""
        return self.status in (404, 410) and self.error is None

    @property
    def transient(self) -> bool:
        return not (self.ok or self.not_modified or self.missing)


class RateLimiter:
    """In-process spacing of requests: at most ``rate`` per second (0 = unlimited)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def reserve(self) -> float:
        """Return the epoch time at which our request may go."""
        async with self._lock:
            slot = max(self._next, time.time())
            self._next = slot + self.interval
            return slot

    async def acquire(self) -> None:
        """Wait for a slot and keep to it: a request that wakes up more than a quarter of an
        interval (and 10 ms) after its slot takes a new slot instead of going late, when it
        would bunch with the slots after it (late requests of several workers together would
        exceed the rate in some second). The rest of the interval is left for what no limiter
        controls: the event loop and the OS scheduler between this check and the wire."""
        if self.interval <= 0:
            return
        for _attempt in range(MAX_LATE_SLOTS):
            slot = await self.reserve()
            delay = slot - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.time() - slot <= max(self.interval / 4, LATE_SLACK):
                return
        log.debug("rate limiter: %d slots missed in a row; sending late", MAX_LATE_SLOTS)


class SharedRateLimiter(RateLimiter):
    """Spacing shared by every process on one database (see :func:`monitor.store.reserve_slot`).

    N workers together stay within ``rate``: each request reserves the next free slot in the
    ``rate_limit`` row with one atomic UPDATE, then sleeps until its slot.
    """

    def __init__(self, rate: float, reserve: Callable[[float], float]) -> None:
        super().__init__(rate)
        self._reserve_slot = reserve

    async def reserve(self) -> float:
        return await asyncio.to_thread(self._reserve_slot, self.interval)


class Fetcher:
    """The only way the service talks to the site."""

    def __init__(
        self,
        settings: Settings,
        limiter: RateLimiter | None = None,
        *,
        on_request: Callable[[str, int | None, float, str | None], Awaitable[None] | None]
        | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.site = settings.site_url
        self.limiter = limiter or RateLimiter(settings.rate_limit)
        self.on_request = on_request
        self._slots = asyncio.Semaphore(settings.concurrency)
        timeout = httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.read_timeout,
            write=settings.read_timeout,
            pool=settings.total_timeout,
        )
        self.client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            headers={"User-Agent": settings.full_user_agent, "Accept-Encoding": "gzip"},
            limits=httpx.Limits(max_connections=settings.concurrency, max_keepalive_connections=4),
            transport=transport,
        )
        self._robots: Protego | None = None
        self._robots_until = 0.0
        self._robots_lock = asyncio.Lock()

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.client.aclose()

    # Public API ----------------------------------------------------------------------------

    async def get(
        self,
        url: str,
        *,
        accept: Accept = "html",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """GET ``url`` politely: robots, rate limit, bounded retries, redirects on-site only."""
        started = time.monotonic()
        url = urljoin(self.site + "/", url)
        if not same_site(url, self.site):
            return FetchResult(url, url, error=f"refused: {_host(url)} is not the configured site")
        if not await self.allowed(url):
            return FetchResult(url, url, error="refused: disallowed by robots.txt")
        result = FetchResult(url, url)
        for attempt in range(self.settings.max_retries + 1):
            result = await self._follow(url, accept, etag, last_modified)
            result.attempts = attempt + 1
            if not self._retryable(result) or attempt == self.settings.max_retries:
                break
            wait = result.retry_after if result.retry_after is not None else _backoff(attempt)
            if wait > MAX_RETRY_AFTER:
                break  # the site asked for a long pause: postpone instead of holding a slot
            await asyncio.sleep(wait)
        result.elapsed = time.monotonic() - started
        return result

    async def allowed(self, url: str) -> bool:
        """robots.txt verdict, re-read daily (RFC 9309: unreachable robots = disallow all)."""
        if time.time() >= self._robots_until:
            async with self._robots_lock:  # concurrent first requests wait for one load
                if time.time() >= self._robots_until:
                    await self._load_robots()
        if self._robots is None:
            return False
        return bool(self._robots.can_fetch(url, ROBOTS_AGENT))

    # Internals -----------------------------------------------------------------------------

    async def _load_robots(self) -> None:
        result = await self._follow(self.site + "/robots.txt", "text", None, None)
        if result.ok:
            text = result.body.decode(result.encoding or "utf-8", errors="replace")
            self._robots = Protego.parse(text)
            self._robots_until = time.time() + ROBOTS_TTL
        elif result.status is not None and 400 <= result.status < 500:
            self._robots = Protego.parse("")  # no robots.txt: everything is allowed
            self._robots_until = time.time() + ROBOTS_TTL
        else:
            # keep the last good rules if we have them; else wait and try again
            self._robots_until = time.time() + min(ROBOTS_RETRY, self.settings.poll_interval)
            log.warning("robots.txt unavailable: %s", result.error or result.status)

    def _retryable(self, result: FetchResult) -> bool:
        if result.error and result.error.startswith("refused"):
            return False
        return result.status is None or result.status in RETRYABLE_STATUS

    async def _follow(
        self, url: str, accept: Accept, etag: str | None, last_modified: str | None
    ) -> FetchResult:
        result = FetchResult(url, url, permanent_redirect=True)
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            hop = await self._request(current, accept, etag, last_modified)
            hop.url, hop.redirects = url, result.redirects
            hop.permanent_redirect = result.permanent_redirect and bool(result.redirects)
            if hop.status not in (301, 302, 303, 307, 308) or hop.error:
                return hop
            location = hop.last_modified_location
            if not location:
                hop.error = f"redirect {hop.status} without a Location"
                return hop
            target = urljoin(current, location)
            if not same_site(target, self.site):
                log.warning("refused off-site redirect %s -> %s", current, _host(target))
                return FetchResult(
                    url, target, status=hop.status, error="refused: off-site redirect"
                )
            if target in result.redirects or target == url:
                return FetchResult(url, target, status=hop.status, error="redirect loop")
            result.redirects.append(target)
            result.permanent_redirect = result.permanent_redirect and hop.status in (301, 308)
            current = target
            etag = last_modified = None  # validators belong to the original URL
        return FetchResult(url, current, error=f"more than {MAX_REDIRECTS} redirects")

    async def _request(
        self, url: str, accept: Accept, etag: str | None, last_modified: str | None
    ) -> _Hop:
        headers = {"Accept": _ACCEPT_HEADERS[accept]}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._slots:
            await self.limiter.acquire()
            started = time.monotonic()
            hop = await self._send(url, accept, headers)
            hop.elapsed = time.monotonic() - started
        if self.on_request is not None:
            maybe = self.on_request(url, hop.status, hop.elapsed, hop.error)
            if maybe is not None:
                await maybe
        return hop

    async def _send(self, url: str, accept: Accept, headers: dict[str, str]) -> _Hop:
        try:
            async with asyncio.timeout(self.settings.total_timeout):
                async with self.client.stream("GET", url, headers=headers) as response:
                    hop = _Hop(url, url, status=response.status_code)
                    hop.content_type = response.headers.get("content-type", "")
                    hop.encoding = _charset(hop.content_type)
                    hop.etag = response.headers.get("etag")
                    hop.last_modified = response.headers.get("last-modified")
                    hop.last_modified_location = response.headers.get("location")
                    hop.retry_after = _retry_after(response.headers.get("retry-after"))
                    if response.status_code != 200:
                        await response.aclose()
                        if response.status_code >= 400 and response.status_code not in (404, 410):
                            hop.error = f"HTTP {response.status_code}"
                        return hop
                    if not _type_allowed(hop.content_type, accept):
                        hop.error = f"unexpected content type {hop.content_type or 'none'!r}"
                        return hop
                    hop.body = await self._read_capped(response, hop)
                    return hop
        except TimeoutError:
            return _Hop(url, url, error="timeout (total)")
        except httpx.TimeoutException as exc:
            return _Hop(url, url, error=f"timeout ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return _Hop(url, url, error=f"network error: {type(exc).__name__}: {exc}"[:300])

    async def _read_capped(self, response: httpx.Response, hop: _Hop) -> bytes:
        cap = self.settings.max_response_bytes
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cap:
            hop.error = f"response too large ({declared} bytes > {cap})"
            return b""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                hop.error = f"response too large (> {cap} bytes)"
                return b""
            chunks.append(chunk)
        return b"".join(chunks)


@dataclass(slots=True)
class _Hop(FetchResult):
    last_modified_location: str | None = None


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"' ").lower()
    return None


def _type_allowed(content_type: str, accept: Accept) -> bool:
    mime = content_type.split(";")[0].strip().lower()
    if accept == "xml" and mime in _ALLOWED_TYPES["html"]:
        return True  # an HTML page where a feed belongs: the feed parser rejects it
    return mime in _ALLOWED_TYPES[accept]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: 0.5 s, 1 s, 2 s … capped at 30 s."""
    return random.uniform(0.5, 1.0) * min(30.0, 0.5 * 2**attempt)


async def fetch_one(settings: Settings, url: str, accept: Accept = "html") -> FetchResult:
    """One polite fetch with a throw-away client (for the CLI's ``extract URL``)."""
    async with Fetcher(settings) as fetcher:
        return await fetcher.get(url, accept=accept)
