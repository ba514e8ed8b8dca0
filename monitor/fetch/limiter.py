"""Spacing of requests: in-process, or shared by every process on one database."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from monitor.store import Slot

log = logging.getLogger("monitor.fetch")  # one logger for the fetcher, as before the split

MAX_LATE_SLOTS = 5  # slots a request may miss (woken too late) before it goes anyway
LATE_SLACK = 0.01  # lateness always tolerated: one database round trip to reserve a slot


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

    async def acquire(self, reserved: Slot | None = None) -> Slot | None:
        """Wait for a slot and keep to it; the block instead when the site asked us to wait.

        A request that wakes up more than a quarter of an interval (and 10 ms) after its slot
        takes a new slot instead of going late, when it would bunch with the slots after it
        (late requests of several workers together would exceed the rate in some second). The
        rest of the interval is left for what no limiter controls: the event loop and the OS
        scheduler between this check and the wire. ``reserved``: a slot the caller reserved
        already (with the claim's renewal, in one statement), tried first."""
        if self.interval <= 0:
            return self._blocked if self._blocked.blocked(time.time()) else None
        for _attempt in range(MAX_LATE_SLOTS):
            slot = reserved if reserved is not None else await self.reserve()
            reserved = None
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
