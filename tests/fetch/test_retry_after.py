"""A Retry-After is honoured by deferring, never by sleeping in a fetch slot (issue 18)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from monitor.fetch import Fetcher, FetchResult
from monitor.runtime import make_limiter
from monitor.settings import Settings
from monitor.store import host_block
from tests.support.replay import ReplaySite

ARTICLE = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)


def fetch(fetcher: Fetcher, path: str, accept: str = "html") -> FetchResult:
    return asyncio.run(_get(fetcher, path, accept))


async def _get(fetcher: Fetcher, path: str, accept: str) -> FetchResult:
    async with fetcher:
        return await fetcher.get(path, accept=accept)  # type: ignore[arg-type]


def test_a_429_with_retry_after_defers_the_article_after_one_request(
    replay_site: ReplaySite, make_settings: Callable[..., Settings]
) -> None:
    replay_site.fault(ARTICLE, "retry_after", status=429, seconds=120)
    asked = time.time()
    result = fetch(Fetcher(make_settings(max_retries=3)), ARTICLE)
    assert replay_site.count(ARTICLE) == 1  # no retry slept in-line
    assert result.deferred and result.status == 429
    assert result.error is not None and result.error.startswith("the site asked us to wait 120 s")
    assert result.deferred_until is not None
    assert asked + 119 <= result.deferred_until <= time.time() + 121


def test_a_retry_after_as_an_http_date_defers_as_long(
    replay_site: ReplaySite, make_settings: Callable[..., Settings]
) -> None:
    replay_site.fault(ARTICLE, "retry_after", status=429, seconds=300, http_date=True)
    result = fetch(Fetcher(make_settings()), ARTICLE)
    assert replay_site.count(ARTICLE) == 1
    assert result.deferred_until is not None and result.deferred_until > time.time() + 290


def test_a_503_with_retry_after_blocks_the_host_for_every_worker(
    replay_site: ReplaySite, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    settings = make_settings(rate_limit=50)
    replay_site.fault("/feed/", "retry_after", status=503, seconds=120)
    first = fetch(Fetcher(settings, make_limiter(settings, engine)), "/feed/", "xml")
    assert first.deferred and "the whole site" in (first.error or "")
    block = host_block(engine, replay_site.origin.removeprefix("http://"))
    assert block is not None and block.blocked(time.time() + 100)
    assert block.blocked_reason == "HTTP 503 with Retry-After on /feed/"

    other = Fetcher(settings, make_limiter(settings, engine))  # another worker, same database
    result = fetch(other, ARTICLE)
    assert replay_site.count(ARTICLE) == 0  # nothing sent while the site asked us to wait
    assert result.deferred and (result.error or "").startswith("the site asked us to wait 1")
    assert result.deferred_until == block.blocked_until


@pytest.mark.parametrize("path", ["/robots.txt", "/feed/"])
def test_a_retry_after_on_robots_or_a_feed_is_for_the_whole_site(
    replay_site: ReplaySite, make_settings: Callable[..., Settings], path: str
) -> None:
    replay_site.fault(path, "retry_after", status=429, seconds=60)

    async def go() -> tuple[FetchResult, FetchResult]:
        async with Fetcher(make_settings()) as fetcher:
            return await fetcher.get("/feed/", accept="xml"), await fetcher.get(ARTICLE)

    feed, article = asyncio.run(go())
    assert feed.deferred and article.deferred
    assert replay_site.count(ARTICLE) == 0
    assert replay_site.count(path) == 1


def test_several_articles_asking_to_wait_block_the_host(
    replay_site: ReplaySite, make_settings: Callable[..., Settings]
) -> None:
    paths = replay_site.paths("article")[:4]
    for path in paths[:3]:
        replay_site.fault(path, "retry_after", status=429, seconds=60)

    async def go() -> list[FetchResult]:
        async with Fetcher(make_settings()) as fetcher:
            return [await fetcher.get(p) for p in paths]

    results = asyncio.run(go())
    assert [r.deferred for r in results] == [True] * 4
    assert "this page" in (results[0].error or "") and "this page" in (results[1].error or "")
    assert "the whole site" in (results[2].error or "")
    assert replay_site.count(paths[3]) == 0


def test_a_5xx_without_retry_after_is_still_retried(
    replay_site: ReplaySite, make_settings: Callable[..., Settings]
) -> None:
    replay_site.fault(ARTICLE, "status", times=1, status=502)
    result = fetch(Fetcher(make_settings(max_retries=2)), ARTICLE)
    assert result.ok and result.attempts == 2
    assert replay_site.count(ARTICLE) == 2


def test_a_lasting_5xx_is_tried_once_plus_max_retries_times_and_then_given_up(
    replay_site: ReplaySite, make_settings: Callable[..., Settings]
) -> None:
    replay_site.fault(ARTICLE, "status", status=502)
    replay_site.reset_log()
    result = fetch(Fetcher(make_settings(max_retries=2)), ARTICLE)
    assert (result.status, result.error, result.attempts) == (502, "HTTP 502", 3)
    assert replay_site.count(ARTICLE) == 3
    assert result.elapsed >= 0.25 + 0.5  # two backoffs: 0.25–0.5 s, then 0.5–1 s (jittered)


def test_with_no_retries_a_5xx_is_one_request(
    replay_site: ReplaySite, make_settings: Callable[..., Settings]
) -> None:
    replay_site.fault(ARTICLE, "status", status=503)
    replay_site.reset_log()
    result = fetch(Fetcher(make_settings(max_retries=0)), ARTICLE)
    assert (result.status, result.attempts, replay_site.count(ARTICLE)) == (503, 1, 1)
