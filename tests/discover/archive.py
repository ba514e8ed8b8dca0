"""Quiet edits of old articles on a synthetic site, announced the way Yoast does: the article's
``lastmod`` in its (old) sitemap, and that sitemap's ``lastmod`` in the index."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tests.support import pages
from tests.support.pages import ArticleSpec
from tests.support.replay import XML, ReplaySite


class Archive:
    """A synthetic :class:`ReplaySite` whose old articles a test edits."""

    def __init__(self, site: ReplaySite, sitemap_size: int) -> None:
        self.site = site
        self.size = sitemap_size
        self.lastmods = {spec.path: spec.published for spec in site.articles}

    @staticmethod
    def sitemap_path(number: int) -> str:
        return "/post-sitemap.xml" if number == 0 else f"/post-sitemap{number + 1}.xml"

    def chunk_of(self, spec: ArticleSpec) -> int:
        return [s.path for s in self.site.articles].index(spec.path) // self.size

    def edit(self, spec: ArticleSpec, transform: Callable[[str], str], when: datetime) -> str:
        """Edit ``spec``'s page and announce it; returns the sitemap that now says so."""
        self.site.edit(spec.path, transform)
        self.lastmods[spec.path] = when
        number = self.chunk_of(spec)
        chunk = self.site.articles[number * self.size : (number + 1) * self.size]
        path = self.sitemap_path(number)
        entries = [(s.path, self.lastmods[s.path]) for s in chunk]
        self.site.set_page(path, pages.urlset(entries), content_type=XML)
        index = self.site.body("/sitemap_index.xml").decode()
        marker = f"{path}</loc><lastmod>"
        start = index.index(marker) + len(marker)
        end = index.index("</lastmod>", start)
        self.site.set_page(
            "/sitemap_index.xml", index[:start] + when.isoformat() + index[end:], content_type=XML
        )
        return path
