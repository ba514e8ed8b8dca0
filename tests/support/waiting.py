"""Waiting for observed events instead of sleeping: what keeps tests true on a loaded machine.

A fixed sleep covers fewer rounds of the service when the machine is busy, and then proves
nothing; a wall-clock bound fails when it is slow. Tests wait for a state (:func:`wait_until`)
or for a number of rounds the service was seen to make (:func:`wait_for_more` requests at a
local server), with deadlines generous enough that only a real fault reaches them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")

DEADLINE = 60.0  # seconds: generous on purpose, a passing test never waits this long


def wait_until(
    what: str, probe: Callable[[], T], timeout: float = DEADLINE, every: float = 0.1
) -> T:
    """Poll ``probe`` until it returns something truthy, and return that.

    On timeout, fail with ``what`` and the last value seen, e.g. "timed out after 60 s
    waiting for the first re-check round (last seen: [])".
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what} (last seen: {value!r})"
            )
        time.sleep(every)


class CountsRequests(Protocol):
    """A local server with a request log: :class:`tests.support.replay.ReplaySite`."""

    def count(self, pattern: str = "*", method: str | None = None) -> int: ...

    def wait_for(self, pattern: str = "*", n: int = 1, timeout: float = 10.0) -> int: ...


def wait_for_more(
    server: CountsRequests, pattern: str, n: int = 1, timeout: float = DEADLINE
) -> int:
    """Block until ``n`` more requests for ``pattern`` than now reached ``server``.

    The way to prove that nothing more happened: after ``n`` more polls of a feed (or
    re-checks of a page), every round that could have repeated something has run.
    """
    return server.wait_for(pattern, server.count(pattern) + n, timeout=timeout)
