"""Keep-alive: every answer is read to its end, so one connection serves a whole idle cycle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from monitor.fetch import Fetcher
from monitor.settings import Settings
from tests.support.replay import ReplaySite


def test_304s_and_other_non_200s_reuse_one_connection(
    replay_site: ReplaySite, make_settings: Callable[..., Settings]
) -> None:
    paths = replay_site.paths("article")[:5]
    replay_site.fault(paths[4], "status", status=503)
    replay_site.redirect("/old-feed/", "/feed/")

    async def go() -> list[int | None]:
        async with Fetcher(make_settings(concurrency=1, max_retries=0)) as fetcher:
            first = [await fetcher.get(p) for p in paths[:4]]
            statuses = [r.status for r in first]
            for path, seen in zip(paths[:4], first, strict=True):
                again = await fetcher.get(path, etag=seen.etag, last_modified=seen.last_modified)
                statuses.append(again.status)
            for path in ("/2099-01-01/news/no-such-article/", paths[4], "/old-feed/"):
                statuses.append((await fetcher.get(path, accept="xml")).status)
            return statuses

    replay_site.reset_log()
    statuses = asyncio.run(go())
    assert statuses == [200] * 4 + [304] * 4 + [404, 503, 200]  # a 301, then the feed
    assert replay_site.count("*") == 13  # robots, 8 articles, 404, 503, the redirect and feed
    assert replay_site.connections_opened == 1


def test_a_worker_of_concurrency_n_opens_at_most_n_connections(
    replay_site: ReplaySite, make_settings: Callable[..., Settings]
) -> None:
    paths = replay_site.paths("article")[:6]

    async def go() -> None:
        async with Fetcher(make_settings(concurrency=2)) as fetcher:
            first = await asyncio.gather(*(fetcher.get(p) for p in paths))
            for _round in range(3):
                await asyncio.gather(
                    *(
                        fetcher.get(p, etag=r.etag, last_modified=r.last_modified)
                        for p, r in zip(paths, first, strict=True)
                    )
                )

    replay_site.reset_log()
    asyncio.run(go())
    assert replay_site.count("*") == 1 + 6 * 4
    assert replay_site.connections_opened <= 2
