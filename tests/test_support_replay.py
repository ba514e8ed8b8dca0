"""The replay site acts like the recorded cphpost.dk; its edits and faults do what they say."""

from __future__ import annotations

import json
import math
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import httpx
import pytest
from defusedxml import EntitiesForbidden
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode

from tests.support.pages import CET
from tests.support.replay import FIXTURES_DIR, ReplaySite, densest
from tests.support.waiting import wait_until

MANIFEST = json.loads((FIXTURES_DIR / "manifest.json").read_text("utf-8"))
ARTICLE = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
SM = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One client for the module: building one loads the CA bundle (~60 ms)."""
    with httpx.Client(timeout=5.0) as c:
        yield c


def _xml(client: httpx.Client, url: str) -> Any:
    """Parsed XML at ``url`` (defusedxml: entities refused)."""
    return SafeET.fromstring(client.get(url).content)


def _texts(elements: Iterable[Any], tag: str) -> list[str]:
    return [str(e.findtext(tag)) for e in elements]


def _node(tree: HTMLParser, selector: str) -> LexborNode:
    node = tree.css_first(selector)
    assert node is not None, selector
    return node


def _path(url: str) -> str:
    parts = httpx.URL(url)
    return parts.raw_path.decode()


def _served(site: ReplaySite, data: bytes) -> bytes:
    origin = site.origin.encode()
    return (
        data.replace(b"https://cphpost.dk", origin)
        .replace(b"http://cphpost.dk", origin)
        .replace(b"//cphpost.dk", origin[5:])
    )


# Recorded site ------------------------------------------------------------------------------


def test_serves_every_manifest_entry_rewritten(
    replay_site: ReplaySite, client: httpx.Client
) -> None:
    for entry in MANIFEST:
        if entry["kind"] == "article-version":
            continue
        r = client.get(replay_site.url(_path(entry["url"])))
        assert r.status_code == entry["status"], entry["url"]
        if "location" in entry:
            assert r.headers["location"] == replay_site.url(_path(entry["location"]))
        elif "file" in entry:
            raw = (FIXTURES_DIR / entry["file"]).read_bytes()
            assert r.content == _served(replay_site, raw), entry["url"]
            assert r.headers["content-type"] == entry["content_type"]
            assert int(r.headers["content-length"]) == len(r.content)
            assert re.fullmatch(r'"[0-9a-f]{16}"', r.headers["etag"])
            assert r.headers["last-modified"].endswith(" GMT")
            assert b"cphpost.dk" not in r.content


def test_recorded_last_modified_and_unknown_paths(
    replay_site: ReplaySite, client: httpx.Client
) -> None:
    r = client.get(replay_site.url(ARTICLE))
    assert r.headers["last-modified"] == "Mon, 22 May 2023 08:40:00 GMT"
    assert client.get(replay_site.url("/feed/")).headers["last-modified"] == (
        "Wed, 07 May 2025 07:40:00 GMT"  # the feed's lastBuildDate
    )
    assert client.get(replay_site.url("/no/such/page/")).status_code == 404
    assert client.get(replay_site.url("/?p=1")).status_code == 404
    assert client.get(replay_site.url("/2099-01-01/news/no-such-article/")).status_code == 404
    tracked = client.get(replay_site.url(ARTICLE + "?utm_source=rss"))  # WordPress ignores it
    assert tracked.status_code == 200 and tracked.content == r.content


def test_robots_and_feed_links_point_back_at_the_site(
    replay_site: ReplaySite, client: httpx.Client
) -> None:
    robots = client.get(replay_site.url("/robots.txt"))
    assert robots.headers["content-type"].startswith("text/plain")
    assert f"Sitemap: {replay_site.origin}/sitemap_index.xml" in robots.text
    feed = SafeET.fromstring(client.get(replay_site.url("/feed/")).content)
    links = _texts(feed.iter("item"), "link")
    assert len(links) == 10 and all(link.startswith(replay_site.origin + "/") for link in links)
    assert client.get(links[0]).status_code == 200


def test_head_matches_get_without_body(replay_site: ReplaySite, client: httpx.Client) -> None:
    get = client.get(replay_site.url(ARTICLE))
    head = client.head(replay_site.url(ARTICLE))
    assert head.status_code == 200 and head.content == b""
    for name in ("content-type", "content-length", "etag", "last-modified"):
        assert head.headers[name] == get.headers[name]
    assert [r.method for r in replay_site.requests] == ["GET", "HEAD"]


def test_conditional_get_and_edit_within_one_second(
    replay_site: ReplaySite, client: httpx.Client
) -> None:
    url = replay_site.url(ARTICLE)
    first = client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304

    replay_site.edit(ARTICLE, lambda t: t.replace("halved in two years", "cut by half"))
    edited = client.get(url, headers={"If-None-Match": etag})
    assert edited.status_code == 200 and "cut by half" in edited.text
    assert edited.headers["etag"] != etag
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 200

    replay_site.edit(ARTICLE, lambda t: t.replace("cut by half", "cut by 50%"))  # same second
    again = client.get(url, headers={"If-None-Match": edited.headers["etag"]})
    assert again.status_code == 200 and again.headers["etag"] != edited.headers["etag"]
    assert (
        client.get(url, headers={"If-Modified-Since": edited.headers["last-modified"]}).status_code
        == 200
    )  # Last-Modified moved on although less than a second passed

    replay_site.restore(ARTICLE)
    assert client.get(url).headers["etag"] == etag


def test_use_version_serves_the_later_recording(
    replay_site: ReplaySite, client: httpx.Client
) -> None:
    url = replay_site.url(ARTICLE)
    original = client.get(url)
    assert replay_site.versions(ARTICLE) == [
        "versions/2023-05-22-rejected-asylum-seekers.corrected.html"
    ]
    replay_site.use_version(ARTICLE)
    corrected = client.get(url, headers={"If-None-Match": original.headers["etag"]})
    assert corrected.status_code == 200
    raw = (FIXTURES_DIR / "versions/2023-05-22-rejected-asylum-seekers.corrected.html").read_bytes()
    assert corrected.content == _served(replay_site, raw)
    replay_site.restore(ARTICLE)
    assert client.get(url).content == original.content
    with pytest.raises(KeyError):
        replay_site.use_version("/feed/")


def test_set_page_delete_redirect(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.set_page("/custom/", "<p>links to https://cphpost.dk/feed/</p>")
    r = client.get(replay_site.url("/custom/"))
    assert r.text == f"<p>links to {replay_site.origin}/feed/</p>"
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    replay_site.set_page("/feed/", b"<rss/>", status=200, content_type="application/rss+xml")
    assert client.get(replay_site.url("/feed/")).content == b"<rss/>"

    replay_site.delete(ARTICLE)
    assert client.get(replay_site.url(ARTICLE)).status_code == 404
    replay_site.delete(ARTICLE, status=410)
    assert client.get(replay_site.url(ARTICLE)).status_code == 410
    assert client.get(replay_site.url("/?p=148207"), follow_redirects=True).status_code == 410

    replay_site.redirect(ARTICLE, "/feed/", status=302)
    r = client.get(replay_site.url(ARTICLE))
    assert r.status_code == 302 and r.headers["location"] == replay_site.url("/feed/")
    replay_site.redirect(ARTICLE, "https://cphpost.dk/tag/asylum/")
    assert client.get(replay_site.url(ARTICLE)).headers["location"] == replay_site.url(
        "/tag/asylum/"
    )

    for path in ("/custom/", "/feed/", ARTICLE):
        replay_site.restore(path)
    assert client.get(replay_site.url("/custom/")).status_code == 404
    assert client.get(replay_site.url(ARTICLE)).status_code == 200


def test_alternate_cycles_through_bodies(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.alternate(ARTICLE, ["<p>A</p>", b"<p>B</p>"])
    bodies = [client.get(replay_site.url(ARTICLE)).text for _ in range(5)]
    assert bodies == ["<p>A</p>", "<p>B</p>", "<p>A</p>", "<p>B</p>", "<p>A</p>"]
    replay_site.restore(ARTICLE)
    assert "<h1" in client.get(replay_site.url(ARTICLE)).text


def test_add_article_publishes_like_wordpress(
    replay_site: ReplaySite, client: httpx.Client
) -> None:
    feed_before = SafeET.fromstring(client.get(replay_site.url("/feed/")).content)
    when = datetime(2026, 1, 5, 10, 30, tzinfo=CET)
    spec = replay_site.add_article(
        "denmark-tightens-family-reunification",
        "Denmark tightens family reunification “for good”",
        ["The government wants stricter rules for refugees.", "## What changes", "Less & more."],
        date=when,
        tags=["asylum"],
        author="Ben Hamilton",
        related=[(ARTICLE, "Rejected asylum-seekers halved")],
    )
    assert spec.path == "/2026-01-05/news/denmark-tightens-family-reunification/"
    page = client.get(replay_site.url(spec.path))
    assert page.status_code == 200
    tree = HTMLParser(page.text)
    assert _node(tree, "h1.entry-title").text() == spec.title
    assert _node(tree, 'link[rel="canonical"]').attributes["href"] == replay_site.url(spec.path)
    jsonld = json.loads(_node(tree, 'script[type="application/ld+json"]').text())
    assert jsonld["@graph"][0]["headline"] == spec.title
    assert jsonld["@graph"][0]["datePublished"] == "2026-01-05T10:30:00+01:00"
    body = [
        n.text()
        for n in tree.css(".entry-content > p, .entry-content > h3")
        if not n.text().startswith("READ MORE")
    ]
    expected = spec.expected(replay_site.origin)
    assert (
        body
        == expected["paragraphs"]
        == [
            "The government wants stricter rules for refugees.",
            "What changes",
            "Less & more.",
        ]
    )
    assert expected["related_links"] == ["Rejected asylum-seekers halved"]
    assert "148207" not in page.text and "halved in two years</h1>" not in page.text
    assert tree.css_first(".news-ticker") is not None  # furniture of the recorded template

    feed = SafeET.fromstring(client.get(replay_site.url("/feed/")).content)
    items = feed.findall("./channel/item")
    assert len(items) == len(feed_before.findall("./channel/item")) == 10
    assert items[0].findtext("title") == spec.title
    assert items[0].findtext("link") == replay_site.url(spec.path)
    assert feed.findtext("./channel/lastBuildDate") == "Mon, 05 Jan 2026 09:30:00 GMT"
    tag_feed = SafeET.fromstring(client.get(replay_site.url("/tag/asylum/feed/")).content)
    assert tag_feed.findall("./channel/item")[0].findtext("title") == spec.title
    assert spec.title in client.get(replay_site.url("/category/news/")).text

    index = SafeET.fromstring(client.get(replay_site.url("/sitemap_index.xml")).content)
    last = index.findall(f"{SM}sitemap")[-1]
    assert last.findtext(f"{SM}lastmod") == "2026-01-05T10:30:00+01:00"
    urls = _xml(client, str(last.findtext(f"{SM}loc")))
    assert urls.findall(f"{SM}url")[-1].findtext(f"{SM}loc") == replay_site.url(spec.path)

    short = client.get(replay_site.url(f"/?p={spec.post_id}"))
    assert short.status_code == 301 and short.headers["location"] == replay_site.url(spec.path)
    assert spec.post_id > 189375  # after every recorded post id


# Faults -------------------------------------------------------------------------------------


def test_status_fault_lifts_after_times(replay_site: ReplaySite, client: httpx.Client) -> None:
    fault = replay_site.fault("/feed/", "status", times=2, status=502)
    codes = [client.get(replay_site.url("/feed/")).status_code for _ in range(3)]
    assert codes == [502, 502, 200]
    assert fault.hits == 2 and fault.remaining == 0
    assert client.get(replay_site.url("/robots.txt")).status_code == 200


def test_fault_glob_and_clear(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault("/20*/news/*", "status", status=500)
    assert client.get(replay_site.url(ARTICLE)).status_code == 500
    assert client.get(replay_site.url("/feed/")).status_code == 200
    replay_site.clear_faults()
    assert client.get(replay_site.url(ARTICLE)).status_code == 200


def test_retry_after(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault("/feed/", "retry_after", times=1, seconds=7)
    r = client.get(replay_site.url("/feed/"))
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    replay_site.fault("/feed/", "retry_after", times=1, status=503, seconds=30, http_date=True)
    r = client.get(replay_site.url("/feed/"))
    assert r.status_code == 503 and r.headers["retry-after"].endswith(" GMT")
    assert client.get(replay_site.url("/feed/")).status_code == 200


def test_delay_times_out_the_client(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault("/feed/", "delay", times=1, seconds=60)
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.get(replay_site.url("/feed/"), timeout=0.15)
    assert time.monotonic() - start < 30  # the client's timeout, not the 60 s delay
    r = client.get(replay_site.url("/feed/"))
    assert r.status_code == 200


def test_delay_then_normal_answer(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault("/robots.txt", "delay", times=1, seconds=0.2)
    start = time.monotonic()
    r = client.get(replay_site.url("/robots.txt"))
    assert r.status_code == 200 and "Sitemap:" in r.text and time.monotonic() - start >= 0.2


def test_reset_mid_body(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault(ARTICLE, "reset", times=1)
    with pytest.raises(httpx.TransportError):
        client.get(replay_site.url(ARTICLE))
    assert client.get(replay_site.url(ARTICLE)).status_code == 200


def test_truncate_is_length_consistent(replay_site: ReplaySite, client: httpx.Client) -> None:
    full = client.get(replay_site.url(ARTICLE)).content
    replay_site.fault(ARTICLE, "truncate", times=1)
    r = client.get(replay_site.url(ARTICLE))
    assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content)
    assert r.content == full[: int(len(full) * 0.4)] and b"</html>" not in r.content


def test_maintenance_page(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault(ARTICLE, "maintenance")
    r = client.get(replay_site.url(ARTICLE))
    assert r.status_code == 200 and "Briefly unavailable for scheduled maintenance" in r.text


def test_invalid_utf8(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault(ARTICLE, "invalid_utf8")
    r = client.get(replay_site.url(ARTICLE))
    assert r.headers["content-type"] == "text/html; charset=UTF-8"
    with pytest.raises(UnicodeDecodeError):
        r.content.decode("utf-8")
    assert b'<h1 class="entry-title">' in r.content


@pytest.mark.parametrize("content_length", [False, True])
def test_huge_body_streams(
    replay_site: ReplaySite, client: httpx.Client, content_length: bool
) -> None:
    replay_site.fault("/feed/", "huge", times=1, mb=3, content_length=content_length)
    with client.stream("GET", replay_site.url("/feed/")) as r:
        assert r.headers["content-type"].startswith("text/html")
        assert ("content-length" in r.headers) is content_length
        size = sum(len(chunk) for chunk in r.iter_bytes())
    assert size == 3 * 1024 * 1024


def test_huge_body_stops_when_client_leaves(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault("/feed/", "huge", times=1)  # 50 MB, but we read 256 KB and hang up
    with client.stream("GET", replay_site.url("/feed/")) as r:
        got = 0
        for chunk in r.iter_bytes():
            assert replay_site.open_connections == 1  # streaming
            got += len(chunk)
            if got > 256 * 1024:
                break  # dropping the iterator closes the connection
    # it notices the hang-up and gives up
    wait_until("the server to drop the connection", lambda: replay_site.open_connections == 0)
    assert client.get(replay_site.url("/feed/")).status_code == 200  # not stuck: no ReadTimeout


def test_redirect_loop(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault("/feed/", "redirect_loop")
    with pytest.raises(httpx.TooManyRedirects):
        client.get(replay_site.url("/feed/"), follow_redirects=True)
    a = client.get(replay_site.url("/feed/"))
    b = client.get(a.headers["location"])
    assert a.status_code == b.status_code == 301
    assert b.headers["location"] == replay_site.url("/feed/") != a.headers["location"]


def test_offsite_redirect(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault("/feed/", "offsite_redirect", times=1)
    r = client.get(replay_site.url("/feed/"))
    assert r.status_code == 301 and r.headers["location"] == "http://127.0.0.2:1/"
    replay_site.fault("/feed/", "offsite_redirect", location="https://evil.example.org/feed/")
    assert client.get(replay_site.url("/feed/")).headers["location"].startswith("https://evil.")


def test_not_xml(replay_site: ReplaySite, client: httpx.Client) -> None:
    replay_site.fault("/sitemap_index.xml", "not_xml")
    r = client.get(replay_site.url("/sitemap_index.xml"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("path", ["/feed/", "/post-sitemap.xml", "/sitemap_index.xml"])
def test_xml_bomb_and_xxe(replay_site: ReplaySite, client: httpx.Client, path: str) -> None:
    replay_site.fault(path, "xml_bomb", times=1)
    bomb = client.get(replay_site.url(path))
    assert b'<!ENTITY lol9 "&lol8;' in bomb.content and len(bomb.content) < 4096
    with pytest.raises(EntitiesForbidden):
        SafeET.fromstring(bomb.content)
    replay_site.fault(path, "xxe", times=1)
    xxe = client.get(replay_site.url(path))
    assert b'SYSTEM "file:///etc/passwd"' in xxe.content
    with pytest.raises(EntitiesForbidden):
        SafeET.fromstring(xxe.content)
    root = "rss" if path == "/feed/" else "sitemapindex" if "index" in path else "urlset"
    assert f"<!DOCTYPE {root} [".encode() in xxe.content
    assert client.get(replay_site.url(path)).status_code == 200


# Request log --------------------------------------------------------------------------------


def test_request_log_count_and_rate(replay_site: ReplaySite, client: httpx.Client) -> None:
    for _ in range(5):
        client.get(replay_site.url("/feed/"), headers={"User-Agent": "cphpost-monitor/test"})
    client.get(replay_site.url(ARTICLE))
    client.head(replay_site.url(ARTICLE))
    log = replay_site.requests
    assert [(r.method, r.path, r.status) for r in log][-2:] == [
        ("GET", ARTICLE, 200),
        ("HEAD", ARTICLE, 200),
    ]
    assert log[0].headers["user-agent"] == "cphpost-monitor/test"
    assert replay_site.count("/feed/") == 5 and replay_site.count("/20*") == 2
    assert replay_site.count("*", method="HEAD") == 1
    assert replay_site.max_rate(3600.0) == 7
    assert replay_site.max_rate(3600.0, pattern="/20*") == 2
    assert replay_site.wait_for("/feed/", 5, timeout=0.1) == 5
    with pytest.raises(TimeoutError):
        replay_site.wait_for("/feed/", 6, timeout=0.1)
    replay_site.reset_log()
    assert replay_site.requests == [] and replay_site.max_rate() == 0


def test_the_densest_window_counts_times_in_a_half_open_window() -> None:
    bursts = [0.0, 0.1, 0.2, 0.3, 0.4, 1.45, 1.5]
    assert densest(bursts, 1.0) == 5
    assert densest(bursts, 2.0) == 7
    assert densest(bursts[5:], 1.0) == 2
    assert densest([0.0, 1.0], 1.0) == 1  # the window's end is open
    assert densest([], 1.0) == 0


def test_stop_refuses_and_restart_keeps_the_port(client: httpx.Client) -> None:
    site = ReplaySite().start()
    origin = site.origin
    site.stop()
    with pytest.raises(httpx.ConnectError):
        client.get(origin + "/feed/")
    site.start()
    try:
        assert site.origin == origin
        assert client.get(origin + "/feed/").status_code == 200
    finally:
        site.stop()


# Synthetic site -----------------------------------------------------------------------------


def test_synthetic_site_serves_n_articles(client: httpx.Client) -> None:
    n = 250
    with ReplaySite.synthetic(n, sitemap_size=100) as site:
        specs = site.articles
        assert len(specs) == n
        assert len({s.path for s in specs}) == len({s.title for s in specs}) == n
        assert len({s.post_id for s in specs}) == n
        assert [s.published for s in specs] == sorted(s.published for s in specs)
        share = sum(bool(s.migration) for s in specs) / n
        assert 0.15 < share < 0.45

        index = SafeET.fromstring(client.get(site.url("/sitemap_index.xml")).content)
        maps = index.findall(f"{SM}sitemap")
        assert len(maps) == math.ceil(n / 100)
        listed: list[str] = []
        for entry in maps:
            urlset = _xml(client, str(entry.findtext(f"{SM}loc")))
            urls = urlset.findall(f"{SM}url")
            assert 0 < len(urls) <= 100 and all(u.findtext(f"{SM}lastmod") for u in urls)
            listed += _texts(urls, f"{SM}loc")
        assert listed == [site.url(s.path) for s in specs]

        for spec in specs:
            r = client.get(site.url(spec.path))
            assert r.status_code == 200, spec.path
        tree = HTMLParser(r.text)
        assert _node(tree, "h1.entry-title").text() == specs[-1].title
        body = [n.text() for n in tree.css(".entry-content > p, .entry-content > h3")]
        assert [p for p in body if not p.startswith("READ MORE")] == list(
            specs[-1].expected()["paragraphs"]
        )

        feed = SafeET.fromstring(client.get(site.url("/feed/")).content)
        titles = [i.findtext("title") for i in feed.findall("./channel/item")]
        assert titles == [s.title for s in reversed(specs[-20:])]
        news = [s for s in reversed(specs) if s.section == "news"]
        page2 = client.get(site.url("/category/news/page/2/"))
        assert page2.status_code == 200 and news[10].title in page2.text
        r = client.get(site.url(f"/?p={specs[0].post_id}"))
        assert r.status_code == 301 and r.headers["location"] == site.url(specs[0].path)
        assert client.get(site.url(specs[0].path.rstrip("/"))).status_code == 301
        assert client.get(site.url("/2025-01-01/news/nothing/")).status_code == 404

        spec = site.add_article("fresh", "Fresh asylum figures", ["Asylum figures are out."])
        assert client.get(site.url(spec.path)).status_code == 200
        feed = SafeET.fromstring(client.get(site.url("/feed/")).content)
        assert feed.findall("./channel/item")[0].findtext("title") == spec.title
        assert len(feed.findall("./channel/item")) == 20
        index = SafeET.fromstring(client.get(site.url("/sitemap_index.xml")).content)
        assert len(index.findall(f"{SM}sitemap")) == math.ceil(n / 100)  # room left in the last


def test_synthetic_backfill_size_is_cheap(client: httpx.Client) -> None:
    start = time.monotonic()
    site = ReplaySite.synthetic(5000)
    assert time.monotonic() - start < 10.0  # generous: shared CI machines
    with site:
        index = SafeET.fromstring(client.get(site.url("/sitemap_index.xml")).content)
        maps = _texts(index.findall(f"{SM}sitemap"), f"{SM}loc")
        assert len(maps) == 5
        total = sum(len(_xml(client, m).findall(f"{SM}url")) for m in maps)
        assert total == 5000
        start = time.monotonic()
        for spec in site.articles[::25]:  # 200 pages
            assert client.get(site.url(spec.path)).status_code == 200
        assert time.monotonic() - start < 10.0  # about 0.3 s here; 40 ms stalls would show


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_main_serves_until_interrupted(stop: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.replay", "--port", "0", "--synthetic", "5"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        origin = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert origin, line
        r = httpx.get(origin.group(0) + "/feed/", timeout=5)
        assert r.status_code == 200 and r.text.count("<item>") == 5
    finally:
        proc.send_signal(stop)
        assert proc.wait(timeout=60) == 0  # generous: a loaded machine stops threads slowly
