"""Extraction and classification in worker processes: the same pages, fingerprints and verdicts
as inline, the same exceptions, and inline again when a worker is gone."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from monitor.backfill import Timings
from monitor.backfill.pool import Pool
from monitor.check import prepare
from monitor.classify import Rules, load_rules
from monitor.db import make_engine, session
from monitor.fetch import FetchResult
from monitor.models import Article, Change, FetchLog, Version
from monitor.settings import Settings, load_settings
from scrapers.article import Article as Page
from scrapers.site import load as load_site
from tests.backfill.conftest import migrate, run
from tests.dbs import sqlite_url
from tests.support.replay import INVALID_UTF8, ReplaySite

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cphpost"
SITE = "https://cphpost.dk"
CPHPOST = load_site("cphpost")
T = TypeVar("T")


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules()


def results() -> list[FetchResult]:
    """Every recorded article and version page, a garbled one, and a page that is no article."""
    out = []
    for path in sorted([*FIXTURES.glob("articles/*.html"), *FIXTURES.glob("versions/*.html")]):
        body = path.read_bytes()
        url = f"{SITE}/{path.stem[:10]}/news/{path.stem[11:]}/"
        out.append(FetchResult(url, url, 200, body, "utf-8", "text/html"))
    first = out[0]
    at = first.body.index(b'<div class="entry-content">')
    garbled = first.body[: at + 200] + INVALID_UTF8 + first.body[at + 200 :]
    out.append(FetchResult(first.url, first.url, 200, garbled, "utf-8", "text/html"))
    out.append(FetchResult(SITE + "/", SITE + "/", 200, b"<html><body>hi</body></html>", "utf-8"))
    return out


def with_pool(rules: Rules, use: Callable[[Pool], Awaitable[T]]) -> T:
    """``use`` a pool of one worker, once the worker is ready; the pool is closed after."""

    async def main() -> T:
        pool = Pool(rules, SITE, 1, CPHPOST)
        try:
            await asyncio.wait_for(asyncio.shield(pool.ready), 60)
            return await use(pool)
        finally:
            await pool.close()

    return asyncio.run(main())


def test_the_worker_gives_what_prepare_gives_inline(rules: Rules) -> None:
    fetched = results()

    async def use(pool: Pool) -> list[Any]:
        prepared = await asyncio.gather(*(pool.prepare(r, None) for r in fetched))
        assert pool.jobs == len(fetched)  # all answered by the worker
        return prepared

    got = with_pool(rules, use)
    assert sum(isinstance(p.page, Page) for p in got) >= 30
    assert not isinstance(got[-1].page, Page) and not isinstance(got[-2].page, Page)
    assert sum(p.verdict is not None for p in got) >= 30
    assert got == [prepare(r, SITE, rules, None, scraper=CPHPOST) for r in fetched]


def test_pages_that_arrive_while_the_worker_is_busy_go_together_as_one_chunk(
    rules: Rules,
) -> None:
    """Ten checks at once, one worker: the first page is sent alone, the second queued behind
    it, and the eight that arrive while both are out go together when the first answers."""
    fetched = results()[:10]

    async def use(pool: Pool) -> list[Any]:
        prepared = await asyncio.gather(*(pool.prepare(r, None) for r in fetched))
        assert (pool.jobs, pool.chunks, pool.in_flight, pool.waiting) == (10, 3, 0, [])
        return prepared

    got = with_pool(rules, use)
    assert got == [prepare(r, SITE, rules, None, scraper=CPHPOST) for r in fetched]


def test_a_page_with_the_known_fingerprint_is_not_classified(rules: Rules) -> None:
    result = results()[0]
    known = prepare(result, SITE, rules, None, scraper=CPHPOST).fingerprint
    assert known is not None

    async def use(pool: Pool) -> Any:
        return await pool.prepare(result, known)

    got = with_pool(rules, use)
    assert (got.fingerprint, got.verdict) == (known, None) and isinstance(got.page, Page)


def test_an_exception_in_the_worker_is_raised_as_inline(rules: Rules) -> None:
    broken = FetchResult(SITE + "/x/", SITE + "/x/", 200, None, "utf-8")  # type: ignore[arg-type]
    with pytest.raises(Exception) as inline:
        prepare(broken, SITE, rules, None, scraper=CPHPOST)

    async def use(pool: Pool) -> None:
        with pytest.raises(type(inline.value)):
            await pool.prepare(broken, None)
        prepared = await pool.prepare(results()[0], None)  # and it goes on
        assert isinstance(prepared.page, Page) and pool.jobs == 1

    with_pool(rules, use)


def test_checks_go_inline_once_the_worker_is_gone(
    rules: Rules, caplog: pytest.LogCaptureFixture
) -> None:
    fetched = results()[:5]

    async def use(pool: Pool) -> list[Any]:
        os.kill(pool.ready.result(), signal.SIGKILL)
        got = [await pool.prepare(r, None) for r in fetched]
        assert pool.executor is None and pool.jobs == 0
        return got

    with caplog.at_level(logging.WARNING, logger="monitor.backfill"):
        got = with_pool(rules, use)
    assert got == [prepare(r, SITE, rules, None, scraper=CPHPOST) for r in fetched]
    assert "worker process ended" in caplog.text


def _stored(engine: Engine) -> dict[str, Any]:
    with session(engine) as db:
        articles = {a.id: a for a in db.exec(select(Article))}
        versions = db.exec(select(Version).order_by(col(Version.id))).all()
        changes = db.exec(select(Change)).all()
        logs = db.exec(select(FetchLog)).all()
    return {
        "articles": sorted(
            (a.url, a.relevant, a.topics, a.status, a.version_count) for a in articles.values()
        ),
        "versions": sorted(
            (articles[v.article_id].url, v.fingerprint, v.relevant, v.classification, v.data)
            for v in versions
        ),
        "changes": sorted((articles[c.article_id].url, c.kinds, c.diff["kinds"]) for c in changes),
        "outcomes": sorted((f.url, f.outcome) for f in logs),
    }


def test_a_long_backfill_stores_with_workers_what_it_stores_inline(tmp_path: Path) -> None:
    """The synthetic site of the scale tests: once with two workers from the first batch on
    (answering most checks), once inline."""
    stored, timings = [], Timings()
    with ReplaySite.synthetic(150, sitemap_size=50) as site:
        for name, workers in (("workers", 2), ("inline", 0)):
            url = sqlite_url(tmp_path / name)
            settings: Settings = load_settings(
                site_url=site.origin, data_dir=tmp_path / name, database_url=url, rate_limit=0
            )
            migrate(url)
            engine = make_engine(url)
            try:
                counts = run(settings, engine, workers=workers, timings=timings)
                assert (counts.fetched, counts.failed) == (150, 0)
                stored.append(_stored(engine))
            finally:
                engine.dispose()
            if name == "workers":
                assert timings.prepared_by_workers > 75
    assert timings.prepared_by_workers <= 150  # none inline-run ones
    assert stored[0] == stored[1]
    assert 25 < sum(relevant for _url, relevant, *_ in stored[0]["articles"]) < 125


def test_a_worker_holds_no_file_or_connection_of_this_process(rules: Rules, tmp_path: Path) -> None:
    """Workers start from a server process of their own: no connection to the site or the
    database and no file the backfill has open is inherited."""
    held = tmp_path / "held"
    engine = make_engine(sqlite_url(tmp_path))
    migrate(sqlite_url(tmp_path))

    async def use(pool: Pool) -> dict[int, str]:
        fds = Path(f"/proc/{pool.ready.result()}/fd")
        return {int(fd.name): str(fd.readlink()) for fd in fds.iterdir()}

    with held.open("w"), engine.connect():
        fds = with_pool(rules, use)
    engine.dispose()
    files = {target for target in fds.values() if target.startswith("/")}
    assert not files & {str(held), str(tmp_path / "monitor.sqlite3")}
    assert not [t for t in files if t.startswith(str(tmp_path))], fds


def test_a_worker_imports_from_this_process_path_not_the_working_directory(
    tmp_path: Path,
) -> None:
    """Started from a directory holding another ``monitor`` package (a checkout of another
    version), the workers still run this code. A fresh process: the server that starts the
    workers is started once per process, from the directory it is in then."""
    other = tmp_path / "elsewhere" / "monitor"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("raise ImportError('the wrong monitor')\n")
    script = tmp_path / "use_pool.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, json, os, sys
            sys.path[:] = json.loads({json.dumps(json.dumps(sys.path))})
            from monitor.backfill.pool import Pool
            from monitor.check import prepare
            from monitor.classify import load_rules
            from monitor.fetch import FetchResult
            from scrapers.site import load
            CPHPOST = load("cphpost")
            os.chdir({str(other.parent)!r})

            async def main():
                body = open({str(sorted(FIXTURES.glob("articles/*.html"))[0])!r}, "rb").read()
                result = FetchResult("{SITE}/x/", "{SITE}/x/", 200, body, "utf-8")
                pool = Pool(load_rules(), "{SITE}", 1, CPHPOST)
                await pool.ready
                got = await pool.prepare(result, None)
                await pool.close()
                want = prepare(result, "{SITE}", load_rules(), None, scraper=CPHPOST)
                assert pool.jobs == 1 and got == want
                print("ok")

            if __name__ == "__main__":
                asyncio.run(main())
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"


def test_pages_larger_than_a_pipe_buffer_go_both_ways(rules: Rules) -> None:
    """A job and its answer of several pipe buffers (64 KiB each) arrive whole."""
    first = results()[0]
    at = first.body.index(b"</p>", first.body.index(b'<div class="entry-content">')) + 4
    paragraph = (
        b"<p>" + b"The weather at Roskilde was sunny again and the music loud. " * 40 + b"</p>\n"
    )
    body = first.body[:at] + paragraph * 120 + first.body[at:]
    big = FetchResult(first.url, first.url, 200, body, "utf-8", "text/html")
    assert len(body) > 4 * 65536

    async def use(pool: Pool) -> list[Any]:
        got = await asyncio.gather(*(pool.prepare(r, None) for r in (big, first, big)))
        assert pool.jobs == 3
        return list(got)

    got = with_pool(rules, use)
    want = prepare(big, SITE, rules, None, scraper=CPHPOST)
    assert isinstance(want.page, Page) and len(want.page.paragraphs) > 120
    assert len(pickle.dumps(want)) > 4 * 65536
    assert got == [want, prepare(first, SITE, rules, None, scraper=CPHPOST), want]
