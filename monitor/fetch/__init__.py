"""Polite HTTP (see :mod:`monitor.fetch.client`): the client, its results, the rate limiter,
retries and robots.txt, each in its own module; every public name importable from here."""

from monitor.fetch.client import MAX_DRAIN, MAX_REDIRECTS, Fetcher, fetch_one
from monitor.fetch.limiter import RateLimiter, SharedRateLimiter
from monitor.fetch.result import Accept, FetchResult
from monitor.fetch.robots import ROBOTS_AGENT, ROBOTS_TTL, Robots, SourceStore

__all__ = [
    "MAX_DRAIN",
    "MAX_REDIRECTS",
    "ROBOTS_AGENT",
    "ROBOTS_TTL",
    "Accept",
    "FetchResult",
    "Fetcher",
    "RateLimiter",
    "Robots",
    "SharedRateLimiter",
    "SourceStore",
    "fetch_one",
]
