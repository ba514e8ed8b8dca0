"""robots.txt: read conditionally, kept fresh by ``Cache-Control: max-age`` (else a day), shared
between processes through the stored validators, and RFC 9309's rule that rules which cannot
be read mean no crawling."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from protego import Protego

from monitor.fetch.result import Accept, FetchResult
from monitor.fetch.retry import unreachable_reason
from monitor.validators import Validators

log = logging.getLogger("monitor.fetch")  # one logger for the fetcher, as before the split

ROBOTS_TTL = 86400.0  # RFC 9309: cached rules are used for 24 h at most
ROBOTS_MIN_TTL = 60.0  # a max-age shorter than this is read as this
ROBOTS_RETRY = 300.0
ROBOTS_AGENT = "cphpost-monitor"

Request = Callable[[str, Accept, str | None, str | None], Awaitable[FetchResult]]
Defer = Callable[[FetchResult, Accept], Awaitable[None]]


class SourceStore(Protocol):
    """Where the fetcher keeps robots.txt between processes (see :mod:`monitor.validators`)."""

    def load(self, url: str) -> Validators | None: ...

    def save(self, item: Validators) -> None: ...


class Robots:
    """The site's robots.txt rules as this process knows them, re-read when they expire."""

    def __init__(
        self,
        site: str,
        retry_every: float,
        request: Request,
        defer: Defer,
        sources: SourceStore | None = None,
    ) -> None:
        self.site = site
        self.retry_every = min(ROBOTS_RETRY, retry_every)
        self.request = request  # one request, redirects followed (the fetcher's)
        self.defer = defer  # honour a Retry-After (the fetcher's)
        self.sources = sources
        self.rules: Protego | None = None
        self.seen: Validators | None = None  # the rules' text and validators
        self.until = 0.0
        self.lock = asyncio.Lock()
        self.unreachable: str | None = None  # why robots.txt could not be read, if it could not
        self.deferred: FetchResult | None = None  # robots.txt answered Retry-After

    async def refusal(self, url: str) -> str | None:
        """Why robots.txt keeps us from ``url`` (disallowed, or unknown: the site cannot be
        reached), or None. Re-read when its rules expire (``max-age``, else daily)."""
        if time.time() >= self.until:
            async with self.lock:  # concurrent first requests wait for one load
                if time.time() >= self.until:
                    await self.load()
        if self.rules is None:  # unknown rules: no crawling (RFC 9309), said as what it is
            return self.unreachable or "refused: robots.txt not read yet"
        if not self.rules.can_fetch(url, ROBOTS_AGENT):
            return "refused: disallowed by robots.txt"
        return None

    async def load(self) -> None:
        robots_url = self.site + "/robots.txt"
        seen = self.seen
        if seen is None and self.sources is not None:
            seen = await asyncio.to_thread(self.sources.load, robots_url)
            fresh = seen is not None and (seen.fresh_until or 0.0) > time.time()
            if seen is not None and seen.body is not None and fresh:
                self.use(seen, seen.fresh_until or 0.0)  # fresh: no request at all
                return
        usable = seen is not None and seen.body is not None
        etag = seen.etag if usable and seen else None
        modified = seen.last_modified if usable and seen else None
        result = await self.request(robots_url, "text", etag, modified)
        if result.error is None and result.status in (200, 304):
            if result.ok:
                text = result.body.decode(result.encoding or "utf-8", errors="replace")
                seen = Validators(robots_url, result.etag, result.last_modified, body=text)
            assert seen is not None and seen.body is not None
            age = ROBOTS_TTL if result.max_age is None else result.max_age
            until = time.time() + min(ROBOTS_TTL, max(ROBOTS_MIN_TTL, age))
            seen.fresh_until = until if result.max_age is not None else None
            self.use(seen, until)
            if self.sources is not None:
                await asyncio.to_thread(self.sources.save, seen)
        elif result.status is not None and 400 <= result.status < 500 and result.status != 429:
            self.use(Validators(robots_url, body=""), time.time() + ROBOTS_TTL)
        else:
            # keep the last good rules if we have them; else wait and try again
            retry = self.retry_every
            self.until = time.time() + retry
            if result.retry_after is not None and result.status in (429, 503):
                await self.defer(result, "text")
            if result.deferred:  # the site asked us to wait: ask again when it said
                self.until = result.deferred_until or self.until
                self.deferred = result
                return
            reason = unreachable_reason(result)
            if self.rules is None:
                message = f"cannot reach {self.site} ({reason}); retrying every {retry:.0f} s"
                if self.unreachable != message:
                    log.warning("%s", message)  # said once, not once per source
                self.unreachable = message
            else:
                log.warning("robots.txt unavailable (%s): keeping the last rules", reason)

    def use(self, seen: Validators, until: float) -> None:
        if self.unreachable is not None:
            log.info("%s answers again", self.site)
        self.deferred = None
        self.rules = Protego.parse(seen.body or "")
        self.seen = seen
        self.until = until
        self.unreachable = None
