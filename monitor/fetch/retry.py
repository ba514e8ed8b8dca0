"""When a fetch is tried again (``tenacity``): no answer, or a 5xx/429 that named no wait."""

from __future__ import annotations

import random

from tenacity import RetryCallState

from monitor.fetch.result import FetchResult

RETRYABLE_STATUS = {429, 500, 502, 503, 504}


def retryable(result: FetchResult) -> bool:
    """Worth another try now: no answer, or a 5xx/429 that named no time to wait."""
    if result.error and (result.error.startswith("refused") or result.deferred):
        return False
    if result.retry_after is not None and result.retry_after > 0:
        return False  # the site named a time: deferred, never slept in-line
    return result.status is None or result.status in RETRYABLE_STATUS


def retry_wait_after(attempts: int) -> float:
    """The pause after ``attempts`` failed attempts (0.5 s, 1 s, 2 s … jittered)."""
    return backoff(attempts - 1)


def last_result(state: RetryCallState) -> FetchResult:
    """Retries exhausted: the last answer is the result (a value, never an exception)."""
    assert state.outcome is not None
    result: FetchResult = state.outcome.result()
    return result


def unreachable_reason(result: FetchResult) -> str:
    error = result.error or ""
    if "ConnectError" in error or "ConnectTimeout" in error:
        return "DNS/connect error"
    if error.startswith("timeout"):
        return "timeout"
    if error.startswith("network error"):
        return "connection error"
    return error or f"HTTP {result.status}"


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: 0.5 s, 1 s, 2 s … capped at 30 s."""
    return random.uniform(0.5, 1.0) * min(30.0, 0.5 * 2**attempt)
