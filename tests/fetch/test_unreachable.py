"""No network is said as such, once, and not read as a robots.txt refusal (issue 18)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from monitor.daemon import Daemon
from monitor.discover import discover
from monitor.fetch import Fetcher
from monitor.settings import Settings
from monitor.status import read_status
from tests.support.replay import ReplaySite

FEEDS = ("/feed/", "/category/news/feed/", "/category/politics/feed/")


def test_an_unreachable_site_is_said_once_and_not_as_a_robots_refusal(
    replay_site: ReplaySite,
    make_settings: Callable[..., Settings],
    engine: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(poll_interval=45)
    origin = replay_site.origin
    replay_site.stop()  # connection refused from now on

    async def go() -> list[str]:
        async with Fetcher(settings) as fetcher:
            report = await discover(fetcher, engine, FEEDS, sitemap_index="/sitemap_index.xml")
            return report.failed

    with caplog.at_level(logging.INFO):
        failed = asyncio.run(go())
    said = f"cannot reach {origin} (DNS/connect error); retrying every 45 s"
    assert failed == [said]  # one reason for the whole round, not one per source
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert messages == [said]
    assert not [r.getMessage() for r in caplog.records if "robots" in r.getMessage()]


def test_status_shows_that_the_site_cannot_be_reached(
    replay_site: ReplaySite, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = make_settings(feeds="/feed/")
    origin = replay_site.origin
    replay_site.stop()
    asyncio.run(Daemon(settings).run(once=True))
    status = read_status(engine, settings)
    assert f"cannot reach {origin} (DNS/connect error); retrying every 60 s" in status.notes
