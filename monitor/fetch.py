"""Polite HTTP: one async client per run, robots.txt, a rate limit, retries, conditional GETs.

Every request goes to the configured site (``CPHMON_SITE_URL``). Redirects are followed by hand
so that each hop is rate-limited and an off-site redirect is refused. Failures come back as
values (:class:`FetchResult` with ``error`` set), never as exceptions: a flaky site is normal.

A ``Retry-After`` (on a 429 or 503) is never slept in-line: the fetch ends at once, deferred to
the time the site named, so the slot goes to other work. When the whole site says so (a 503,
robots.txt, a feed or sitemap, or several articles in a row) the host is blocked until then in
the shared rate-limit row, and every worker's requests wait without being sent. Transient
faults without one (5xx, a reset, a timeout) are retried with ``tenacity``: a few short,
jittered backoffs. Every answer is read to its end (bodies of non-200s capped) so that the
keep-alive connection is reused: one TCP connection per worker for a whole idle cycle.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol
from urllib.parse import urljoin, urlsplit

import httpx
from protego import Protego
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt

from monitor.settings import Settings
from monitor.store import Slot
from monitor.validators import Validators

log = logging.getLogger(__name__)

ROBOTS_TTL = 86400.0  # RFC 9309: cached rules are used for 24 h at most
ROBOTS_MIN_TTL = 60.0  # a max-age shorter than this is read as this
ROBOTS_RETRY = 300.0
MAX_REDIRECTS = 5
MAX_DEFER = 86400.0  # a Retry-After longer than a day is taken as a day
SITE_WIDE_AFTER = 3  # distinct articles answering Retry-After within the window: the host
SITE_WIDE_WINDOW = 300.0
MAX_DRAIN = 64 * 1024  # bytes of a non-200 body read to keep the connection; more: close it
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
    deferred_until: float | None = None  # epoch: Retry-After honoured, the fetch postponed
    max_age: float | None = None  # Cache-Control: max-age
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

    @property
    def deferred(self) -> bool:
        """The site asked us to wait (Retry-After): check again at ``deferred_until``."""
        return self.deferred_until is not None


class SourceStore(Protocol):
    """Where the fetcher keeps robots.txt between processes (see :mod:`monitor.validators`)."""

    def load(self, url: str) -> Validators | None: ...

    def save(self, item: Validators) -> None: ...


class RateLimiter:
    """In-process spacing of requests: at most ``rate`` per second (0 = unlimited), and the
    site's Retry-After for the whole host (in this process only)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._blocked = Slot(0.0)
        self._lock = asyncio.Lock()

    async def reserve(self) -> Slot:
        """The epoch time at which our request may go, or the block in force."""
        async with self._lock:
            now = time.time()
            if self._blocked.blocked(now):
                return self._blocked
            slot = max(self._next, now)
            self._next = slot + self.interval
            return Slot(slot)

    async def block(self, until: float, reason: str) -> float:
        """The whole site asked us to wait until ``until``; returns the block now in force."""
        if until > self._blocked.blocked_until:
            self._blocked = Slot(0.0, until, reason)
        return self._blocked.blocked_until

    async def acquire(self) -> Slot | None:
        """Wait for a slot and keep to it; the block instead when the site asked us to wait.

        A request that wakes up more than a quarter of an interval (and 10 ms) after its slot
        takes a new slot instead of going late, when it would bunch with the slots after it
        (late requests of several workers together would exceed the rate in some second). The
        rest of the interval is left for what no limiter controls: the event loop and the OS
        scheduler between this check and the wire."""
        if self.interval <= 0:
            return self._blocked if self._blocked.blocked(time.time()) else None
        for _attempt in range(MAX_LATE_SLOTS):
            slot = await self.reserve()
            if slot.blocked(time.time()):
                return slot
            delay = slot.at - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.time() - slot.at <= max(self.interval / 4, LATE_SLACK):
                return None
        log.debug("rate limiter: %d slots missed in a row; sending late", MAX_LATE_SLOTS)
        return None


class SharedRateLimiter(RateLimiter):
    """Spacing shared by every process on one database (see :func:`monitor.store.reserve_slot`).

    N workers together stay within ``rate``: each request reserves the next free slot in the
    ``rate_limit`` row with one atomic UPDATE, then sleeps until its slot. A site-wide
    Retry-After is written to the same row, so the same UPDATE tells every worker to wait.
    """

    def __init__(
        self,
        rate: float,
        reserve: Callable[[float], Slot],
        block: Callable[[float, str], float] | None = None,
    ) -> None:
        super().__init__(rate)
        self._reserve_slot = reserve
        self._block_host = block

    async def reserve(self) -> Slot:
        return await asyncio.to_thread(self._reserve_slot, self.interval)

    async def block(self, until: float, reason: str) -> float:
        if self._block_host is None:
            return await super().block(until, reason)
        return await asyncio.to_thread(self._block_host, until, reason)


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
        sources: SourceStore | None = None,
    ) -> None:
        self.settings = settings
        self.site = settings.site_url
        self.scraper = settings.scraper  # the site's rules: which URLs are on it
        self.limiter = limiter or RateLimiter(settings.rate_limit)
        self.on_request = on_request
        self.sources = sources
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
            limits=httpx.Limits(
                max_connections=settings.concurrency,
                max_keepalive_connections=settings.concurrency,
            ),
            transport=transport,
        )
        self._robots: Protego | None = None
        self._robots_seen: Validators | None = None  # the rules' text and validators
        self._robots_until = 0.0
        self._robots_lock = asyncio.Lock()
        self.unreachable: str | None = None  # why robots.txt could not be read, if it could not
        self._asked_to_wait: dict[str, float] = {}  # article URL -> when it answered Retry-After
        self.deferred: FetchResult | None = None  # robots.txt answered Retry-After

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
        if not self.scraper.same_site(url, self.site):
            return FetchResult(url, url, error=f"refused: {_host(url)} is not the configured site")
        refusal = await self.refusal(url)
        if refusal is not None and self._robots is None and self.deferred is not None:
            wait = self.deferred
            left = max(0.0, (wait.deferred_until or 0.0) - time.time())
            return FetchResult(
                url, url, error=wait.error, retry_after=left, deferred_until=wait.deferred_until
            )
        if refusal is not None:
            return FetchResult(url, url, error=refusal)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=_wait,
            retry=retry_if_result(_retryable),
            retry_error_callback=_last_result,
        )
        result: FetchResult = await retrying(self._follow, url, accept, etag, last_modified)
        result.attempts = int(retrying.statistics.get("attempt_number", 1))
        if result.retry_after is not None and result.status in (429, 503) and not result.deferred:
            await self._defer(result, accept)
        result.elapsed = time.monotonic() - started
        return result

    async def allowed(self, url: str) -> bool:
        """robots.txt verdict (RFC 9309: unreachable robots = disallow all)."""
        return await self.refusal(url) is None

    async def refusal(self, url: str) -> str | None:
        """Why robots.txt keeps us from ``url`` (disallowed, or unknown: the site cannot be
        reached), or None. Re-read when its rules expire (``max-age``, else daily)."""
        if time.time() >= self._robots_until:
            async with self._robots_lock:  # concurrent first requests wait for one load
                if time.time() >= self._robots_until:
                    await self._load_robots()
        if self._robots is None:  # unknown rules: no crawling (RFC 9309), said as what it is
            return self.unreachable or "refused: robots.txt not read yet"
        if not self._robots.can_fetch(url, ROBOTS_AGENT):
            return "refused: disallowed by robots.txt"
        return None

    # Internals -----------------------------------------------------------------------------

    async def _defer(self, result: FetchResult, accept: Accept) -> None:
        """Honour a Retry-After: this URL waits, or the whole host does when the site says so
        (a 503, a non-article source, or several articles in a short while)."""
        wait = min(float(result.retry_after or 0.0), MAX_DEFER)
        now = time.time()
        site_wide = result.status == 503 or accept != "html" or self._many_waiting(result.url, now)
        until = now + wait
        reason = f"HTTP {result.status} with Retry-After on {urlsplit(result.url).path}"
        if site_wide:
            until = await self.limiter.block(until, reason)
            log.warning("the site asked us to wait %d s: every request waits (%s)", wait, reason)
        result.deferred_until, result.retry_after = until, until - now
        scope = "the whole site" if site_wide else "this page"
        result.error = f"the site asked us to wait {math.ceil(until - now)} s ({scope}, {reason})"

    def _many_waiting(self, url: str, now: float) -> bool:
        recent = {u: t for u, t in self._asked_to_wait.items() if now - t < SITE_WIDE_WINDOW}
        recent[url] = now
        self._asked_to_wait = recent
        return len(recent) >= SITE_WIDE_AFTER

    async def _load_robots(self) -> None:
        robots_url = self.site + "/robots.txt"
        seen = self._robots_seen
        if seen is None and self.sources is not None:
            seen = await asyncio.to_thread(self.sources.load, robots_url)
            fresh = seen is not None and (seen.fresh_until or 0.0) > time.time()
            if seen is not None and seen.body is not None and fresh:
                self._use_robots(seen, seen.fresh_until or 0.0)  # fresh: no request at all
                return
        usable = seen is not None and seen.body is not None
        etag = seen.etag if usable and seen else None
        modified = seen.last_modified if usable and seen else None
        result = await self._follow(robots_url, "text", etag, modified)
        if result.error is None and result.status in (200, 304):
            if result.ok:
                text = result.body.decode(result.encoding or "utf-8", errors="replace")
                seen = Validators(robots_url, result.etag, result.last_modified, body=text)
            assert seen is not None and seen.body is not None
            age = ROBOTS_TTL if result.max_age is None else result.max_age
            until = time.time() + min(ROBOTS_TTL, max(ROBOTS_MIN_TTL, age))
            seen.fresh_until = until if result.max_age is not None else None
            self._use_robots(seen, until)
            if self.sources is not None:
                await asyncio.to_thread(self.sources.save, seen)
        elif result.status is not None and 400 <= result.status < 500 and result.status != 429:
            self._use_robots(Validators(robots_url, body=""), time.time() + ROBOTS_TTL)
        else:
            # keep the last good rules if we have them; else wait and try again
            retry = min(ROBOTS_RETRY, self.settings.poll_interval)
            self._robots_until = time.time() + retry
            if result.retry_after is not None and result.status in (429, 503):
                await self._defer(result, "text")
            if result.deferred:  # the site asked us to wait: ask again when it said
                self._robots_until = result.deferred_until or self._robots_until
                self.deferred = result
                return
            reason = _unreachable_reason(result)
            if self._robots is None:
                message = f"cannot reach {self.site} ({reason}); retrying every {retry:.0f} s"
                if self.unreachable != message:
                    log.warning("%s", message)  # said once, not once per source
                self.unreachable = message
            else:
                log.warning("robots.txt unavailable (%s): keeping the last rules", reason)

    def _use_robots(self, seen: Validators, until: float) -> None:
        if self.unreachable is not None:
            log.info("%s answers again", self.site)
        self.deferred = None
        self._robots = Protego.parse(seen.body or "")
        self._robots_seen = seen
        self._robots_until = until
        self.unreachable = None

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
            if not self.scraper.same_site(target, self.site):
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
            blocked = await self.limiter.acquire()
            if blocked is not None:  # the whole site asked us to wait: nothing is sent
                left = max(0.0, blocked.blocked_until - time.time())
                return _Hop(
                    url,
                    url,
                    error=f"the site asked us to wait {math.ceil(left)} s "
                    f"(the whole site, {blocked.blocked_reason or 'Retry-After'})",
                    retry_after=left,
                    deferred_until=blocked.blocked_until,
                )
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
                    hop.max_age = _max_age(response.headers.get("cache-control"))
                    if response.status_code != 200:
                        await _drain(response)
                        if response.status_code >= 400 and response.status_code not in (404, 410):
                            hop.error = f"HTTP {response.status_code}"
                        return hop
                    if not _type_allowed(hop.content_type, accept):
                        await _drain(response)
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


async def _drain(response: httpx.Response) -> None:
    """Read a body we do not use to its end, so httpx returns the connection to the pool
    (a response closed unread closes its connection). A large one is not worth it."""
    declared = response.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_DRAIN):
        return
    size = 0
    async for chunk in response.aiter_raw():
        size += len(chunk)
        if size > MAX_DRAIN:
            return


def _retryable(result: FetchResult) -> bool:
    """Worth another try now: no answer, or a 5xx/429 that named no time to wait."""
    if result.error and (result.error.startswith("refused") or result.deferred):
        return False
    if result.retry_after is not None and result.retry_after > 0:
        return False  # the site named a time: deferred, never slept in-line
    return result.status is None or result.status in RETRYABLE_STATUS


def _wait(state: RetryCallState) -> float:
    return _backoff(state.attempt_number - 1)


def _last_result(state: RetryCallState) -> FetchResult:
    """Retries exhausted: the last answer is the result (a value, never an exception)."""
    assert state.outcome is not None
    result: FetchResult = state.outcome.result()
    return result


def _unreachable_reason(result: FetchResult) -> str:
    error = result.error or ""
    if "ConnectError" in error or "ConnectTimeout" in error:
        return "DNS/connect error"
    if error.startswith("timeout"):
        return "timeout"
    if error.startswith("network error"):
        return "connection error"
    return error or f"HTTP {result.status}"


_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I)


def _max_age(value: str | None) -> float | None:
    if not value:
        return None
    if "no-store" in value.lower() or "no-cache" in value.lower():
        return 0.0
    match = _MAX_AGE.search(value)
    return float(match.group(1)) if match else None


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
