"""A second site runs through the whole pipeline with no edit in ``monitor/``.

``tests/sites/gazette.py`` is written only against ``scrapers.site``; here a local server plays
that site, and ``cphpost-monitor`` watches it with ``CPHMON_SITE=tests.sites.gazette``:
discovery from its feed, extraction, versions, classification, alerts and an edit.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.harness import Monitor

ASYLUM_STORY = [
    "The government wants to deport rejected asylum seekers faster, the immigration "
    "minister said on Tuesday.",
    "Under the bill, asylum seekers whose applications are refused would lose their "
    "residence permits within 30 days, and the deportation centres would be expanded.",
    "Refugee organisations say the asylum rules already are among the strictest in Europe.",
]
HARBOUR_STORY = [
    "The new harbour bath opens on Saturday with a diving tower and a sauna.",
    "Swimmers can use it free of charge until the end of September.",
]


def page(title: str, lede: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Gazette</title></head><body>"
        f"<nav>Home | News</nav><h1 class='headline'>{title}</h1><p class='lede'>{lede}</p>"
        f"<time datetime='2026-12-01T09:00:00+01:00'>1 Dec</time>"
        f"<div class='story'>{body}</div><footer>© Gazette</footer></body></html>"
    ).encode()


class GazetteSite:
    """The Harbour Gazette on a local port: pages by path, with ETags, edited by tests."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = site.pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                etag = f'"{hashlib.sha1(body).hexdigest()}"'
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                kinds = {".html": "text/html", ".txt": "text/plain"}
                kind = kinds.get(self.path[self.path.rfind(".") :], "application/xml")
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def publish(self, slug: str, title: str, lede: str, paragraphs: list[str]) -> str:
        self.pages[f"/news/{slug}.html"] = page(title, lede, paragraphs)
        items = "".join(
            f"<item><title>{p}</title><link>{self.origin}{p}</link></item>"
            for p in sorted(self.pages)
            if p.startswith("/news/")
        )
        self.pages["/rss.xml"] = f"<rss><channel>{items}</channel></rss>".encode()
        return f"{self.origin}/news/{slug}.html"

    def __enter__(self) -> GazetteSite:
        self.pages["/robots.txt"] = b"User-agent: *\nAllow: /\n"
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gazette() -> Iterator[GazetteSite]:
    with GazetteSite() as site:
        yield site


def test_a_second_site_is_discovered_stored_classified_and_alerted_without_monitor_edits(
    tmp_path: Path, gazette: GazetteSite
) -> None:
    asylum = gazette.publish("faster-deportations", "Faster deportations", "A bill.", ASYLUM_STORY)
    harbour = gazette.publish("harbour-bath-opens", "Harbour bath opens", "Summer.", HARBOUR_STORY)
    monitor = Monitor(tmp_path, gazette.origin, site="tests.sites.gazette")
    try:
        monitor.upgrade()
        monitor.run_once()

        tracked = {a.url: a for a in monitor.articles()}
        assert set(tracked) == {asylum, harbour}
        assert tracked[asylum].relevant and not tracked[harbour].relevant
        assert [v.title for v in monitor.versions(asylum)] == ["Faster deportations"]
        assert [(a.kind, a.article_id) for a in monitor.alerts()] == [("new", tracked[asylum].id)]

        edited = [*ASYLUM_STORY[:2], "Critics say 4,000 people could be deported each year."]
        gazette.publish("faster-deportations", "Faster deportations", "A bill.", edited)
        checked = monitor.cli("check", asylum, check=True)

        assert "changed" in checked.stdout
        assert [v.seq for v in monitor.versions(asylum)] == [1, 2]
        assert [a.kind for a in monitor.alerts()] == ["new", "changed"]
    finally:
        monitor.close()
