"""Article URLs from the site's feeds, sitemaps and archive listings.

Each parser returns :class:`~scrapers.article.Candidate` values with canonical URLs on the
configured site, in document order, without duplicates. Links that are off-site or not articles
are dropped, never guessed at. XML is parsed with defusedxml and DTDs are refused outright (no
feed or sitemap needs one), so entity expansion and external entities raise
:class:`DiscoveryError` instead of expanding; so does a page that is not XML at all (an HTML
maintenance page served as a feed), which the caller treats as a failed poll, not an empty one.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import defusedxml
import defusedxml.ElementTree as SafeET
from selectolax.lexbor import LexborHTMLParser, LexborNode

from scrapers.article import Candidate, clean_text
from scrapers.cphpost.decoding import utf8_page
from scrapers.cphpost.urls import canonicalize, on_site_url
from scrapers.site import DiscoveryError, Listing, SitemapRef

_SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.I | re.S
)
# Furniture that carries teasers of other articles: never part of the listing's own list.
_LISTING_FURNITURE = (
    "header, footer, nav, aside, .news-ticker, .related-posts, .more-posts, .widget, "
    ".newsletter-signup, .connect-club-promo, .site-header, .site-footer"
)
_LISTING_CONTAINERS = (".archive-list", "main .post-list", "main")


# --- XML -----------------------------------------------------------------------------------


def _parse_xml(data: bytes | str, what: str) -> ET.Element:
    """Root element of a safely parsed document, or DiscoveryError saying why not."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not raw.strip():
        raise DiscoveryError(f"{what}: empty document")
    if _HTML_START.match(raw):
        raise DiscoveryError(f"{what}: got an HTML page, not XML (maintenance or error page?)")
    try:
        return SafeET.fromstring(raw, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise DiscoveryError(f"{what}: refused unsafe XML ({type(exc).__name__})") from exc
    except ET.ParseError as exc:
        raise DiscoveryError(f"{what}: not well-formed XML ({exc})") from exc


def _text(element: ET.Element | None) -> str:
    return clean_text(element.text or "") if element is not None else ""


def _aware(value: datetime) -> datetime:
    """Feeds and sitemaps that omit the offset mean UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _rfc822(value: str) -> datetime | None:
    try:
        return _aware(parsedate_to_datetime(value)) if value else None
    except (TypeError, ValueError, IndexError):
        return None


def _w3c(value: str) -> datetime | None:
    """W3C datetime as sitemaps use it: a date, or a date and time with an offset."""
    try:
        return _aware(datetime.fromisoformat(value)) if value else None
    except ValueError:
        return None


def _unique(candidates: Iterable[Candidate]) -> list[Candidate]:
    """First occurrence of each URL, in order."""
    seen: set[str] = set()
    out: list[Candidate] = []
    for candidate in candidates:
        if candidate.url not in seen:
            seen.add(candidate.url)
            out.append(candidate)
    return out


def parse_feed(data: bytes | str, site: str) -> list[Candidate]:
    """Candidates from an RSS 2.0 feed: link, title, pubDate and categories of each item."""
    root = _parse_xml(data, "feed")
    if root.tag != "rss" or root.find("channel") is None:
        raise DiscoveryError(f"feed: expected RSS 2.0 <rss><channel>, got <{root.tag}>")
    return _unique(_feed_items(root.iterfind("channel/item"), site))


def _feed_items(items: Iterable[ET.Element], site: str) -> Iterator[Candidate]:
    for item in items:
        url = canonicalize(_text(item.find("link")), site)
        if url is None:
            continue
        categories = (_text(c) for c in item.iterfind("category"))
        yield Candidate(
            url=url,
            source="feed",
            title=_text(item.find("title")) or None,
            published=_rfc822(_text(item.find("pubDate"))),
            categories=tuple(c for c in categories if c),
        )


def parse_sitemap_index(data: bytes | str, site: str) -> list[SitemapRef]:
    """The child sitemaps of a sitemap index that are on the configured site."""
    root = _parse_xml(data, "sitemap index")
    if root.tag != f"{_SITEMAP_NS}sitemapindex":
        raise DiscoveryError(f"sitemap index: expected <sitemapindex>, got <{root.tag}>")
    refs: list[SitemapRef] = []
    for entry in root.iterfind(f"{_SITEMAP_NS}sitemap"):
        url = on_site_url(_text(entry.find(f"{_SITEMAP_NS}loc")), site)
        if url is not None and all(ref.url != url for ref in refs):
            refs.append(SitemapRef(url, _w3c(_text(entry.find(f"{_SITEMAP_NS}lastmod")))))
    return refs


def parse_sitemap(data: bytes | str, site: str) -> list[Candidate]:
    """Candidates from a ``<urlset>`` sitemap: loc and lastmod of each article URL."""
    root = _parse_xml(data, "sitemap")
    if root.tag != f"{_SITEMAP_NS}urlset":
        raise DiscoveryError(f"sitemap: expected <urlset>, got <{root.tag}>")
    return _unique(_sitemap_urls(root.iterfind(f"{_SITEMAP_NS}url"), site))


def _sitemap_urls(entries: Iterable[ET.Element], site: str) -> Iterator[Candidate]:
    for entry in entries:
        url = canonicalize(_text(entry.find(f"{_SITEMAP_NS}loc")), site)
        if url is not None:
            lastmod = _w3c(_text(entry.find(f"{_SITEMAP_NS}lastmod")))
            yield Candidate(url=url, source="sitemap", lastmod=lastmod)


# --- HTML listings ------------------------------------------------------------------------


def parse_listing(html: bytes | str, site: str) -> Listing:
    """The archive's own teasers (not ticker, navigation or related teasers) and its next page.

    Raises DiscoveryError when the page has no article list at all, which means a redesign or
    an error page rather than an empty archive (WordPress marks those with ``.no-results``).
    """
    tree = LexborHTMLParser(utf8_page(html))
    next_page = _next_page(tree, site)
    if tree.css_first(".no-results") is not None:
        return Listing((), next_page)
    container = _listing_container(tree)
    if container is None:
        raise DiscoveryError("listing: no article list (.archive-list, .post-list or <main>)")
    teasers = (_teaser(node, site) for node in container.css("article"))
    return Listing(tuple(_unique(t for t in teasers if t is not None)), next_page)


def _listing_container(tree: LexborHTMLParser) -> LexborNode | None:
    for selector in _LISTING_CONTAINERS:
        container = tree.css_first(selector)
        if container is not None:
            for furniture in container.css(_LISTING_FURNITURE):
                furniture.decompose()
            return container
    return None


def _teaser(node: LexborNode, site: str) -> Candidate | None:
    """One teaser: its headline link first, else its first link; title, date and category."""
    link = _first(node, (".teaser-title a[href]", "h2 a[href]", "h3 a[href]", "a[href]"))
    url = canonicalize(link.attributes.get("href") or "", site) if link is not None else None
    if url is None or link is None:
        return None
    title = clean_text(link.text()) or clean_text(link.attributes.get("title") or "")
    when = node.css_first("time[datetime]")
    category = node.css_first(".teaser-categories")
    return Candidate(
        url=url,
        source="listing",
        title=title or None,
        published=_w3c((when.attributes.get("datetime") or "").strip()) if when else None,
        categories=(clean_text(category.text()),) if category and category.text().strip() else (),
    )


def _first(node: LexborNode, selectors: Iterable[str]) -> LexborNode | None:
    """First match of the first selector that matches (css_first with one list ignores order)."""
    for selector in selectors:
        found = node.css_first(selector)
        if found is not None:
            return found
    return None


def _next_page(tree: LexborHTMLParser, site: str) -> str | None:
    """The pagination's Next link, else ``<link rel=next>``; only when it stays on the site."""
    for selector, attribute in (("a.next[href]", "href"), ('link[rel="next"][href]', "href")):
        node = tree.css_first(selector)
        if node is not None:
            url = on_site_url(node.attributes.get(attribute) or "", site)
            if url is not None:
                return url
    return None
