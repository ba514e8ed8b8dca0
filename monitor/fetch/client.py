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
import logging
import math
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urljoin, urlsplit

import httpx
from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt

from monitor.fetch.headers import (
    ACCEPT_HEADERS,
    charset,
    max_age,
    retry_after_seconds,
    type_allowed,
)
from monitor.fetch.limiter import RateLimiter
from monitor.fetch.result import Accept, FetchResult, Hop
from monitor.fetch.retry import last_result, retry_wait_after, retryable
from monitor.fetch.robots import Robots, SourceStore
from monitor.settings import Settings
from monitor.store import Slot

log = logging.getLogger("monitor.fetch")  # one logger for the fetcher, as before the split

MAX_REDIRECTS = 5
MAX_DEFER = 86400.0  # a Retry-After longer than a day is taken as a day
SITE_WIDE_AFTER = 3  # distinct articles answering Retry-After within the window: the host
SITE_WIDE_WINDOW = 300.0
MAX_DRAIN = 64 * 1024  # bytes of a non-200 body read to keep the connection; more: close it


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
        self.robots = Robots(
            self.site, settings.poll_interval, self._follow, self._defer, sources=sources
        )
        self._asked_to_wait: dict[str, float] = {}  # article URL -> when it answered Retry-After

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
        slot: Slot | None = None,
    ) -> FetchResult:
        """GET ``url`` politely: robots, rate limit, bounded retries, redirects on-site only.
        ``slot``: a rate-limit slot already reserved for the first request."""
        started = time.monotonic()
        url = urljoin(self.site + "/", url)
        if not self.scraper.same_site(url, self.site):
            return FetchResult(url, url, error=f"refused: {_host(url)} is not the configured site")
        refusal = await self.refusal(url)
        if refusal is not None and self.robots.rules is None and self.deferred is not None:
            wait = self.deferred
            left = max(0.0, (wait.deferred_until or 0.0) - time.time())
            return FetchResult(
                url, url, error=wait.error, retry_after=left, deferred_until=wait.deferred_until
            )
        if refusal is not None:
            return FetchResult(url, url, error=refusal)
        result = await self._follow(url, accept, etag, last_modified, slot)
        result.attempts = 1
        if retryable(result) and self.settings.max_retries > 0:
            # the first attempt goes without tenacity (its machinery per call is a tenth of a
            # 304's CPU); the retries are tenacity's, after the same first backoff
            await asyncio.sleep(retry_wait_after(1))
            retrying = AsyncRetrying(
                stop=stop_after_attempt(self.settings.max_retries),
                wait=lambda state: retry_wait_after(state.attempt_number + 1),
                retry=retry_if_result(retryable),
                retry_error_callback=last_result,
            )
            result = await retrying(self._follow, url, accept, etag, last_modified)
            result.attempts = 1 + int(retrying.statistics.get("attempt_number", 1))
        if result.retry_after is not None and result.status in (429, 503) and not result.deferred:
            await self._defer(result, accept)
        result.elapsed = time.monotonic() - started
        return result

    async def allowed(self, url: str) -> bool:
        """robots.txt verdict (RFC 9309: unreachable robots = disallow all)."""
        return await self.refusal(url) is None

    async def refusal(self, url: str) -> str | None:
        """Why robots.txt keeps us from ``url``, or None (see :class:`Robots`)."""
        return await self.robots.refusal(url)

    @property
    def unreachable(self) -> str | None:
        """Why robots.txt could not be read, if it could not."""
        return self.robots.unreachable

    @property
    def deferred(self) -> FetchResult | None:
        """robots.txt answered Retry-After: every fetch waits until then."""
        return self.robots.deferred

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

    async def _follow(
        self,
        url: str,
        accept: Accept,
        etag: str | None,
        last_modified: str | None,
        slot: Slot | None = None,
    ) -> FetchResult:
        result = FetchResult(url, url, permanent_redirect=True)
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            hop = await self._request(current, accept, etag, last_modified, slot)
            slot = None  # used by the first request
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
        self,
        url: str,
        accept: Accept,
        etag: str | None,
        last_modified: str | None,
        slot: Slot | None = None,
    ) -> Hop:
        headers = {"Accept": ACCEPT_HEADERS[accept]}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._slots:
            blocked = await self.limiter.acquire(slot)
            if blocked is not None:  # the whole site asked us to wait: nothing is sent
                left = max(0.0, blocked.blocked_until - time.time())
                return Hop(
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

    async def _send(self, url: str, accept: Accept, headers: dict[str, str]) -> Hop:
        try:
            async with asyncio.timeout(self.settings.total_timeout):
                async with self.client.stream("GET", url, headers=headers) as response:
                    hop = Hop(url, url, status=response.status_code)
                    hop.content_type = response.headers.get("content-type", "")
                    hop.encoding = charset(hop.content_type)
                    hop.etag = response.headers.get("etag")
                    hop.last_modified = response.headers.get("last-modified")
                    hop.last_modified_location = response.headers.get("location")
                    hop.retry_after = retry_after_seconds(response.headers.get("retry-after"))
                    hop.max_age = max_age(response.headers.get("cache-control"))
                    if response.status_code != 200:
                        await _drain(response)
                        if response.status_code >= 400 and response.status_code not in (404, 410):
                            hop.error = f"HTTP {response.status_code}"
                        return hop
                    if not type_allowed(hop.content_type, accept):
                        await _drain(response)
                        hop.error = f"unexpected content type {hop.content_type or 'none'!r}"
                        return hop
                    hop.body = await self._read_capped(response, hop)
                    return hop
        except TimeoutError:
            return Hop(url, url, error="timeout (total)")
        except httpx.TimeoutException as exc:
            return Hop(url, url, error=f"timeout ({type(exc).__name__})")
        except httpx.HTTPError as exc:
            return Hop(url, url, error=f"network error: {type(exc).__name__}: {exc}"[:300])

    async def _read_capped(self, response: httpx.Response, hop: Hop) -> bytes:
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


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


async def fetch_one(settings: Settings, url: str, accept: Accept = "html") -> FetchResult:
    """One polite fetch with a throw-away client (for the CLI's ``extract URL``)."""
    async with Fetcher(settings) as fetcher:
        return await fetcher.get(url, accept=accept)
