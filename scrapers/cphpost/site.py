"""The Copenhagen Post as a :class:`scrapers.site.Site`: its URL rules, sources and layout."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import date

from scrapers.article import Article, Candidate, ExtractionFailure
from scrapers.cphpost import discover, urls
from scrapers.cphpost.extract import extract
from scrapers.cphpost.redesign import REDESIGN
from scrapers.site import Listing, Redesign, SitemapRef, register
from scrapers.template import Template

_URL_DAY = re.compile(r"/(\d{4})-(\d{2})-(\d{2})/")
_PAGE_NUMBER = re.compile(r"/page/(\d+)/")  # WordPress pagination


@dataclass(frozen=True, slots=True)
class CphPost:
    name: str = "cphpost"
    default_origin: str = urls.DEFAULT_SITE
    feed_paths: tuple[str, ...] = ("/feed/", "/category/news/feed/", "/tag/asylum/feed/")
    sitemap_index_path: str = "/sitemap_index.xml"
    listing_paths: tuple[str, ...] = ("/category/news/",)

    def canonicalize(self, url: str, origin: str) -> str | None:
        return urls.canonicalize(url, origin)

    def same_site(self, url: str, origin: str) -> bool:
        return urls.same_site(url, origin)

    def article_day(self, url: str) -> date | None:
        match = _URL_DAY.search(url)
        if match:
            with contextlib.suppress(ValueError):
                return date(int(match[1]), int(match[2]), int(match[3]))
        return None

    def parse_feed(self, data: bytes, origin: str) -> list[Candidate]:
        return discover.parse_feed(data, origin)

    def parse_sitemap_index(self, data: bytes, origin: str) -> list[SitemapRef]:
        return discover.parse_sitemap_index(data, origin)

    def parse_sitemap(self, data: bytes, origin: str) -> list[Candidate]:
        return discover.parse_sitemap(data, origin)

    def parse_listing(self, data: bytes, origin: str) -> Listing:
        return discover.parse_listing(data, origin)

    def listing_pages_left(self, data: bytes, page: str) -> int | None:
        numbers = [int(n) for n in _PAGE_NUMBER.findall(data.decode("utf-8", "replace"))]
        if not numbers:
            return None
        current = _PAGE_NUMBER.search(page)
        here = int(current[1]) if current else 1
        return max(max(numbers) - here + 1, 1)

    def extract(
        self,
        data: bytes | str,
        url: str,
        origin: str,
        encoding: str | None = None,
        template: Template | None = None,
    ) -> Article | ExtractionFailure:
        return extract(data, url, origin, encoding, template=template)

    @property
    def redesign(self) -> Redesign:
        return REDESIGN


SITE = register(CphPost())
