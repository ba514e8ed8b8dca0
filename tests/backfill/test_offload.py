"""Extraction and classification in a worker process: the same pages, fingerprints and verdicts
as inline, the same exceptions, and inline again when the worker is gone."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

import monitor.backfill as backfill_module
from monitor.backfill import _Offload
from monitor.check import Context, prepare
from monitor.classify import load_rules
from monitor.db import make_engine, session, upgrade
from monitor.fetch import Fetcher, FetchResult
from monitor.models import Article, Change, FetchLog, Version
from monitor.settings import Settings, load_settings
from monitor.store import Claim
from scrapers.article import Article as Page
from tests.backfill.conftest import run
from tests.dbs import sqlite_url
from tests.support.replay import INVALID_UTF8, ReplaySite

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cphpost"
SITE = "https://cphpost.dk"


@pytest.fixture(params=["fork", "exec"])
def start(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The worker forked (this process runs one thread) or a fresh interpreter (it runs
    several)."""
    monkeypatch.setattr(backfill_module, "_can_fork", lambda: request.param == "fork")
    return str(request.param)


@pytest.fixture
def ctx(tmp_path: Path, start: str) -> Iterator[Context]:
    settings = load_settings(site_url=SITE, data_dir=tmp_path, rate_limit=0)
    engine = make_engine(sqlite_url(tmp_path))
    yield Context(settings, engine, Fetcher(settings), [], load_rules(), "test")
    engine.dispose()


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


def claim(url: str, known: str | None = None) -> Claim:
    return Claim(1, url, None, None, "pending", None, "test", known)


async def started(ctx: Context) -> _Offload:
    offload = _Offload(ctx)
    for _ in range(600):
        if offload.ready:
            return offload
        await asyncio.sleep(0.05)
    offload.close()
    raise AssertionError("the worker process did not start in 30 s")


def test_the_worker_gives_what_prepare_gives_inline(ctx: Context) -> None:
    fetched = results()

    async def main() -> list[Any]:
        offload = await started(ctx)
        try:
            pages = await asyncio.gather(*(offload(claim(r.url), r) for r in fetched))
            assert offload.jobs == len(fetched)  # all answered by the worker
            return pages
        finally:
            offload.close()

    pages = asyncio.run(main())
    assert sum(isinstance(p, Page) for p in pages) >= 30
    assert not isinstance(pages[-1], Page) and not isinstance(pages[-2], Page)
    for result, page in zip(fetched, pages, strict=True):
        want, fp, verdict = prepare(result, SITE, ctx.rules, None)
        assert page == want
        if fp is not None:
            assert ctx.verdicts[fp] == verdict


def test_a_page_with_the_known_fingerprint_is_not_classified(ctx: Context) -> None:
    result = results()[0]
    _page, fp, _verdict = prepare(result, SITE, ctx.rules, None)

    async def main() -> None:
        offload = await started(ctx)
        try:
            await offload(claim(result.url, known=fp), result)
        finally:
            offload.close()

    asyncio.run(main())
    assert ctx.verdicts == {}


def test_an_exception_in_the_worker_is_raised_as_inline(ctx: Context) -> None:
    broken = FetchResult(SITE + "/x/", SITE + "/x/", 200, None, "utf-8")  # type: ignore[arg-type]
    with pytest.raises(Exception) as inline:
        prepare(broken, SITE, ctx.rules, None)

    async def main() -> None:
        offload = await started(ctx)
        try:
            with pytest.raises(type(inline.value)):
                await offload(claim(broken.url), broken)
            page = await offload(claim(results()[0].url), results()[0])  # and it goes on
            assert isinstance(page, Page)
        finally:
            offload.close()

    asyncio.run(main())


def test_checks_go_inline_once_the_worker_is_gone(
    ctx: Context, caplog: pytest.LogCaptureFixture
) -> None:
    fetched = results()[:5]

    async def main() -> list[Any]:
        offload = await started(ctx)
        assert offload.process is not None
        offload.process.send_signal(signal.SIGKILL)
        try:
            pages = [await offload(claim(r.url), r) for r in fetched]
            assert offload.process is None and not offload.ready
            return pages
        finally:
            offload.close()

    with caplog.at_level(logging.WARNING, logger="monitor.backfill"):
        pages = asyncio.run(main())
    assert pages == [prepare(r, SITE, ctx.rules, None)[0] for r in fetched]
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


def test_a_long_backfill_stores_with_the_worker_what_it_stores_inline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The synthetic site of the scale tests: once with the worker from the first batch on
    (answering most checks), once inline (one core)."""
    made: list[_Offload] = []
    original = _Offload.__init__

    def recording(self: _Offload, ctx: Context) -> None:
        original(self, ctx)
        made.append(self)

    monkeypatch.setattr(_Offload, "__init__", recording)
    monkeypatch.setattr(backfill_module, "OFFLOAD_AFTER", 1)
    monkeypatch.setattr(backfill_module, "_cores", lambda: 2)
    stored = []
    with ReplaySite.synthetic(300, sitemap_size=100) as site:
        for name, cores in (("worker", 2), ("inline", 1)):
            monkeypatch.setattr(backfill_module, "_cores", lambda cores=cores: cores)
            url = sqlite_url(tmp_path / name)
            settings: Settings = load_settings(
                site_url=site.origin, data_dir=tmp_path / name, database_url=url, rate_limit=0
            )
            upgrade(url)
            engine = make_engine(url)
            try:
                counts = run(settings, engine)
                assert (counts.fetched, counts.failed) == (300, 0)
                stored.append(_stored(engine))
            finally:
                engine.dispose()
    assert len(made) == 1 and made[0].jobs > 0 and made[0].process is None  # used, then closed
    assert stored[0] == stored[1]
    assert 50 < sum(relevant for _url, relevant, *_ in stored[0]["articles"]) < 250


def test_a_forked_worker_keeps_no_descriptor_of_this_process(
    ctx: Context, start: str, tmp_path: Path
) -> None:
    """Beyond its standard streams, the worker holds its socket only: no connection to the
    site or the database and no file of the backfill stays open in it."""
    if start != "fork":
        pytest.skip("a fresh interpreter inherits only its socket (pass_fds)")

    async def main() -> dict[int, str]:
        with (tmp_path / "held").open("w"):
            offload = await started(ctx)
        try:
            assert offload.process is not None
            fds = Path(f"/proc/{offload.process.pid}/fd")
            return {int(fd.name): str(fd.readlink()) for fd in fds.iterdir()}
        finally:
            offload.close()

    held = {fd: target for fd, target in asyncio.run(main()).items() if fd > 2}
    assert len(held) == 1 and next(iter(held.values())).startswith("socket:"), held


def test_a_fresh_worker_imports_from_this_process_path_not_the_working_directory(
    ctx: Context, start: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run from a directory with another ``monitor`` package (a checkout of another version),
    the worker still runs this code."""
    if start != "exec":
        pytest.skip("a forked worker imports nothing")
    other = tmp_path / "elsewhere" / "monitor"
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("raise ImportError('the wrong monitor')\n")
    monkeypatch.chdir(other.parent)
    result = results()[0]

    async def main() -> Any:
        offload = await started(ctx)
        try:
            return await offload(claim(result.url), result)
        finally:
            offload.close()

    assert asyncio.run(main()) == prepare(result, SITE, ctx.rules, None)[0]


def test_pages_larger_than_the_socket_buffer_go_both_ways(ctx: Context) -> None:
    """A job and its answer of megabytes arrive in many reads: framed, not cut."""
    first = results()[0]
    at = first.body.index(b"</p>", first.body.index(b'<div class="entry-content">')) + 4
    paragraph = (
        b"<p>" + b"The weather at Roskilde was sunny again and the music loud. " * 40 + b"</p>\n"
    )
    body = first.body[:at] + paragraph * 1500 + first.body[at:]
    big = FetchResult(first.url, first.url, 200, body, "utf-8", "text/html")
    assert len(body) > 2_000_000

    async def main() -> list[Any]:
        offload = await started(ctx)
        try:
            pages = await asyncio.gather(*(offload(claim(r.url), r) for r in (big, first, big)))
            assert offload.jobs == 3
            return pages
        finally:
            offload.close()

    pages = asyncio.run(main())
    want = prepare(big, SITE, ctx.rules, None)[0]
    assert isinstance(want, Page) and len(want.paragraphs) > 1000
    assert pages == [want, prepare(first, SITE, ctx.rules, None)[0], want]
