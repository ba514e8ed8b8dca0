"""The seam between the service and a news site: what ``monitor/`` may know about a site.

A site is a package under ``scrapers/`` (or any importable module) that builds one object
satisfying :class:`Site` and passes it to :func:`register`. The service asks for a site by name
(``CPHMON_SITE``, default ``cphpost``) through :func:`load`, which imports ``scrapers.<name>``
(or the dotted module path given) and returns what it registered, so adding a site touches no
file of the service. Everything a site offers is pure: bytes and URLs in, values out; ``origin``
is the origin being watched (the live site or a local mirror, ``CPHMON_SITE_URL``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scrapers.article import Article, Candidate, ExtractionFailure
from scrapers.template import Stored, Template

__all__ = [
    "DiscoveryError",
    "Listing",
    "Redesign",
    "Site",
    "SiteError",
    "SitemapRef",
    "load",
    "register",
    "registered",
]


class DiscoveryError(ValueError):
    """A feed, sitemap or listing that cannot be read (not XML, unsafe XML, no article list)."""


class SiteError(LookupError):
    """No site of that name can be loaded; the message says which and why."""


@dataclass(frozen=True, slots=True)
class SitemapRef:
    """One child sitemap named by a sitemap index."""

    url: str
    lastmod: datetime | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """The article teasers of one archive page and the URL of the next page, if any."""

    candidates: tuple[Candidate, ...]
    next_page: str | None = None


class Redesign(Protocol):
    """What template learning (:mod:`scrapers.learn`) must know of a site's pages: its own
    body container, its furniture and related-link lines, the text a page declares apart from
    its markup. A learned template only ever stands in for the site's own container."""

    def lost_body(self, failure: ExtractionFailure) -> bool:
        """Whether ``failure`` is the page lacking the site's own body container (all else
        there): the one failure a learned template can cure."""
        ...

    def has_own_body(self, page: bytes | str) -> bool:
        """Whether the page has the site's own body container (its original template)."""
        ...

    def declared_text(self, page: bytes | str) -> Stored | None:
        """The article text the page declares apart from its markup (cphpost: JSON-LD
        ``articleBody``): evidence for an article the monitor has no version of yet."""
        ...

    def parse(self, page: bytes | str) -> LexborHTMLParser | None:
        """The page's tree as extraction parses it; None for an empty page."""
        ...

    def own_body(self, tree: LexborHTMLParser) -> LexborNode | None:
        """The site's own body container in ``tree``, if it has one."""
        ...

    def strip_furniture(self, root: LexborNode) -> None:
        """Remove from ``root`` what the site's extraction never counts as text."""
        ...

    def is_related(self, text: str) -> bool:
        """Whether a block of this text is a related link line, not a paragraph."""
        ...


@runtime_checkable
class Site(Protocol):
    """URL rules, discovery sources, extraction and archive layout of one news site."""

    @property
    def name(self) -> str:
        """The registry key, e.g. ``cphpost``."""
        ...

    @property
    def default_origin(self) -> str:
        """e.g. ``https://cphpost.dk``."""
        ...

    @property
    def feed_paths(self) -> tuple[str, ...]:
        """Feeds polled every poll interval."""
        ...

    @property
    def sitemap_index_path(self) -> str:
        """The sitemap index, read every sitemap interval."""
        ...

    @property
    def listing_paths(self) -> tuple[str, ...]:
        """Archive listings the backfill can walk, newest first."""
        ...

    def canonicalize(self, url: str, origin: str) -> str | None:
        """The one spelling of an article URL on ``origin``; None when it is not an article."""
        ...

    def same_site(self, url: str, origin: str) -> bool:
        """Whether ``url`` is on ``origin`` (host aliases included): redirects stay on it."""
        ...

    def article_day(self, url: str) -> date | None:
        """The publication day the URL itself names, when its layout carries one."""
        ...

    def parse_feed(self, data: bytes, origin: str) -> list[Candidate]: ...

    def parse_sitemap_index(self, data: bytes, origin: str) -> list[SitemapRef]: ...

    def parse_sitemap(self, data: bytes, origin: str) -> list[Candidate]: ...

    def parse_listing(self, data: bytes, origin: str) -> Listing: ...

    def listing_pages_left(self, data: bytes, page: str) -> int | None:
        """Pages from ``page`` to the last one the listing's pagination names, if it names it."""
        ...

    def extract(
        self,
        data: bytes | str,
        url: str,
        origin: str,
        encoding: str | None = None,
        template: Template | None = None,
    ) -> Article | ExtractionFailure:
        """The article on a fetched page, or why there is none; ``template`` is a body layout
        the service learned (``monitor/templates``) for when the site's own markup is gone."""
        ...

    @property
    def redesign(self) -> Redesign | None:
        """How to learn this site's body after a redesign; None: no learning (then a page
        without its body simply fails)."""
        ...


_SITES: dict[str, Site] = {}


def register(site: Site) -> Site:
    """Make ``site`` loadable by its name (a site module calls this once, on import)."""
    if not isinstance(site, Site):
        raise TypeError(f"{site!r} does not provide everything scrapers.site.Site names")
    _SITES[site.name] = site
    return site


def registered() -> tuple[str, ...]:
    return tuple(sorted(_SITES))


def load(name: str) -> Site:
    """The site called ``name``: ``scrapers.<name>``, or the module at a dotted path."""
    if name in _SITES:
        return _SITES[name]
    module = name if "." in name else f"scrapers.{name}"
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        raise SiteError(f"no site {name!r}: cannot import {module} ({exc})") from None
    site = _SITES.get(name) or getattr(imported, "SITE", None)
    if not isinstance(site, Site):
        raise SiteError(f"no site {name!r}: {module} registers no scrapers.site.Site")
    _SITES.setdefault(name, site)
    return site
