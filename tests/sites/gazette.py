"""The Harbour Gazette: a minimal second news site, written only against ``scrapers.site``.

Articles live at ``/news/<slug>.html``; ``/rss.xml`` is an RSS 2.0 feed; ``/sitemaps.xml`` a
sitemap index. A page carries ``<h1 class="headline">``, ``<p class="lede">``, ``<time>`` and
the story in ``<div class="story">``. Loaded with ``CPHMON_SITE=tests.sites.gazette``; the
service must run its whole pipeline on it without knowing it exists.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urljoin, urlsplit

import defusedxml
import defusedxml.ElementTree as SafeET
from selectolax.lexbor import LexborHTMLParser

from scrapers.article import Article, Candidate, ExtractionFailure, clean_text
from scrapers.site import DiscoveryError, Listing, Redesign, SitemapRef, register
from scrapers.template import Template

_ARTICLE = re.compile(r"^/news/([a-z0-9-]+)\.html$")
_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def _xml(data: bytes, what: str) -> ET.Element:
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except (ET.ParseError, defusedxml.DefusedXmlException) as exc:
        raise DiscoveryError(f"{what} is not XML: {exc}") from None


def _when(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Gazette:
    name: str = "gazette"
    default_origin: str = "https://gazette.example"
    feed_paths: tuple[str, ...] = ("/rss.xml",)
    sitemap_index_path: str = "/sitemaps.xml"
    listing_paths: tuple[str, ...] = ()

    def canonicalize(self, url: str, origin: str) -> str | None:
        parts = urlsplit(urljoin(origin + "/", url))
        if not self.same_site(parts.geturl(), origin):
            return None
        path = parts.path.lower()
        return f"{origin}{path}" if _ARTICLE.match(path) else None

    def same_site(self, url: str, origin: str) -> bool:
        return urlsplit(url).netloc.lower() == urlsplit(origin).netloc.lower()

    def article_day(self, url: str) -> date | None:
        return None  # the URLs carry no date

    def parse_feed(self, data: bytes, origin: str) -> list[Candidate]:
        found = []
        for item in _xml(data, "feed").iter("item"):
            url = self.canonicalize(item.findtext("link") or "", origin)
            if url:
                found.append(Candidate(url, "feed", title=item.findtext("title")))
        return found

    def parse_sitemap_index(self, data: bytes, origin: str) -> list[SitemapRef]:
        root = _xml(data, "sitemap index")
        return [
            SitemapRef(urljoin(origin + "/", loc), _when(node.findtext(f"{_NS}lastmod")))
            for node in root.iter(f"{_NS}sitemap")
            if (loc := (node.findtext(f"{_NS}loc") or "").strip())
        ]

    def parse_sitemap(self, data: bytes, origin: str) -> list[Candidate]:
        found = []
        for node in _xml(data, "sitemap").iter(f"{_NS}url"):
            url = self.canonicalize(node.findtext(f"{_NS}loc") or "", origin)
            if url:
                found.append(
                    Candidate(url, "sitemap", lastmod=_when(node.findtext(f"{_NS}lastmod")))
                )
        return found

    def parse_listing(self, data: bytes, origin: str) -> Listing:
        raise DiscoveryError("the gazette has no archive listing")

    def listing_pages_left(self, data: bytes, page: str) -> int | None:
        return None

    def extract(
        self,
        data: bytes | str,
        url: str,
        origin: str,
        encoding: str | None = None,
        template: Template | None = None,  # no learning for this site: its markup is fixed
    ) -> Article | ExtractionFailure:
        text = data.decode(encoding or "utf-8", "replace") if isinstance(data, bytes) else data
        tree = LexborHTMLParser(text)
        canonical = self.canonicalize(url, origin)
        story, headline = tree.css_first("div.story"), tree.css_first("h1.headline")
        if canonical is None or story is None or headline is None:
            return ExtractionFailure(url, "no headline or story on the page")
        paragraphs = tuple(
            clean_text(p.text(separator=" ")) for p in story.css("p") if p.text(strip=True)
        )
        lede, stamp = tree.css_first("p.lede"), tree.css_first("time")
        return Article(
            url=canonical,
            title=clean_text(headline.text(separator=" ")),
            standfirst=clean_text(lede.text(separator=" ")) if lede else "",
            author="",
            published=_when(stamp.attributes.get("datetime")) if stamp else None,
            modified=None,
            section="news",
            tags=(),
            post_id=None,
            paywalled=False,
            paragraphs=paragraphs,
        )

    @property
    def redesign(self) -> Redesign | None:
        return None  # its markup is fixed: a page without its story just fails


SITE = register(Gazette())
