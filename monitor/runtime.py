"""What every driver of checks stands on: the context of a check and how it is built.

The daemon, the backfill and the ``check`` command each build one :class:`Context` with
:func:`make_context`; none of them imports another driver.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import Engine

from monitor import metrics
from monitor.alerts.targets import Target, load_targets
from monitor.classify import Rules, load_rules
from monitor.fetch import Fetcher, RateLimiter, SharedRateLimiter
from monitor.settings import Settings
from monitor.store import Claim, Slot, block_host, reserve_slot
from monitor.store.recheck import renew_and_reserve
from monitor.validators import DatabaseSources


@dataclass(slots=True)
class Context:
    """What a check needs from the running service."""

    settings: Settings
    engine: Engine
    fetcher: Fetcher
    targets: Sequence[Target]
    rules: Rules
    owner: str
    alerts_enabled: bool = True  # the backfill turns alerts off unless --alert
    # the shared rate limit: renew a claim and reserve its first request's slot in one go
    # (None: no shared limit; see make_reserver)
    reserve: Callable[[Claim, float], Slot | None] | None = None


def make_limiter(settings: Settings, engine: Engine) -> RateLimiter:
    """The politeness budget, shared through the database by every process that uses it."""
    if settings.rate_limit <= 0:
        return RateLimiter(0)
    host = urlsplit(settings.site_url).netloc
    return SharedRateLimiter(
        settings.rate_limit,
        lambda interval: reserve_slot(engine, host, interval, time.time()),
        lambda until, reason: block_host(engine, host, until, reason),
    )


def make_reserver(
    settings: Settings, engine: Engine
) -> Callable[[Claim, float], Slot | None] | None:
    """With the shared rate limit: ``reserve(claim, lease_seconds)`` restarts the claim's lease
    and reserves the slot of its first request in one statement (None: the claim was lost)."""
    if settings.rate_limit <= 0:
        return None
    host, interval = urlsplit(settings.site_url).netloc, 1.0 / settings.rate_limit
    return lambda claim, lease: renew_and_reserve(engine, claim, lease, host, interval, time.time())


def make_context(settings: Settings, engine: Engine, owner: str, *, alerts: bool = True) -> Context:
    fetcher = Fetcher(
        settings,
        make_limiter(settings, engine),
        on_request=metrics.count_request,
        sources=DatabaseSources(engine),
    )
    rules = load_rules(settings.classifier_rules, settings.classifier_rules_mode)
    targets = load_targets(settings)
    reserve = make_reserver(settings, engine)
    return Context(settings, engine, fetcher, targets, rules, owner, alerts, reserve)
