"""The metadata of a cphpost.dk article page, each field from its most stable signal first.

JSON-LD ``NewsArticle`` → ``og:``/``article:`` meta → theme markup; the URL from
``<link rel=canonical>`` (when on-site) → the fetched URL → ``og:url``. A redesign that keeps
JSON-LD and meta (the usual kind) changes none of these fields.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scrapers.article import clean_text
from scrapers.cphpost.urls import canonical_and_section, post_id_from_shortlink_href
from scrapers.css import css, css_first

SITE_TZ = ZoneInfo("Europe/Copenhagen")  # what the site means by a date without an offset
ARTICLE_TYPES = frozenset(
    {"NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle", "BlogPosting"}
)
LD_SCRIPT = 'script[type="application/ld+json"]'
_META = "meta[content]"
_CANONICAL = 'link[rel="canonical"][href]'
_SHORTLINK = 'link[rel="shortlink"][href]'
# One walk of <head> for every signal it holds (each walk costs as much as the matching).
_HEAD_SIGNALS = f"{LD_SCRIPT}, {_META}, {_CANONICAL}, {_SHORTLINK}"

_POST_ID = re.compile(r"^post-(\d+)$")
_BODY_POST_ID = re.compile(r"\bpostid-(\d+)\b")


def _rel(node: LexborNode) -> str:
    """A ``<link>``'s ``rel`` as lexbor's selectors compare it (ASCII case-insensitively)."""
    rel = node.attributes.get("rel") or ""
    return rel.lower() if rel.isascii() else rel


class Signals:
    """The page's JSON-LD article object, its ``<meta>`` values and its canonical and
    shortlink ``<link>``, read in one walk of ``<head>`` (the whole page only for what the
    head lacks: a match in ``<head>`` is always the page's first)."""

    __slots__ = ("canonical", "ld", "meta", "shortlink")

    def __init__(self, tree: LexborHTMLParser) -> None:
        head = tree.head
        by_tag: dict[str, list[LexborNode]] = {"script": [], "meta": [], "link": []}
        for node in css(head, _HEAD_SIGNALS) if head is not None else ():
            by_tag.setdefault(node.tag or "", []).append(node)
        self.ld: dict[str, Any] = article_in(by_tag["script"] or css(tree, LD_SCRIPT)) or {}
        self.meta: dict[str, list[str]] = _meta_values(by_tag["meta"] or css(tree, _META))
        self.canonical = _first_link(tree, by_tag["link"], "canonical", _CANONICAL)
        self.shortlink = _first_link(tree, by_tag["link"], "shortlink", _SHORTLINK)

    def ld_text(self, key: str) -> str:
        value = self.ld.get(key)
        return clean_text(html.unescape(value)) if isinstance(value, str) else ""

    def meta_text(self, *keys: str) -> str:
        for key in keys:
            for value in self.meta.get(key, ()):
                cleaned = clean_text(value)
                if cleaned:
                    return cleaned
        return ""


def _first_link(
    tree: LexborHTMLParser, links: list[LexborNode], rel: str, selector: str
) -> str | None:
    """The ``href`` of the page's first ``<link rel=...>`` with one, or None."""
    for node in links:
        if _rel(node) == rel:
            return node.attributes.get("href") or ""
    first = css_first(tree, selector)
    return (first.attributes.get("href") or "") if first is not None else None


def json_ld_article(tree: LexborHTMLParser) -> dict[str, Any] | None:
    """The first ``NewsArticle`` (or other Article type) in the page's JSON-LD blocks."""
    head = tree.head
    found = css(head, LD_SCRIPT) if head is not None else []
    return article_in(found or css(tree, LD_SCRIPT))


def article_in(scripts: Iterable[LexborNode]) -> dict[str, Any] | None:
    for script in scripts:
        try:
            data = json.loads(script.text())
        except ValueError:
            continue  # one broken block must not hide the others
        for node in _ld_nodes(data):
            types = node.get("@type")
            types = {types} if isinstance(types, str) else set(types or ())
            if types & ARTICLE_TYPES:
                return node
    return None


def _ld_nodes(data: Any) -> Iterator[dict[str, Any]]:
    """Every object of a JSON-LD document: top level, lists and ``@graph`` members."""
    if isinstance(data, list):
        for item in data:
            yield from _ld_nodes(item)
    elif isinstance(data, dict):
        yield data
        yield from _ld_nodes(data.get("@graph", []))


def _meta_values(nodes: Iterable[LexborNode]) -> dict[str, list[str]]:
    """``<meta property|name=... content=...>`` values by lower-case key, in page order."""
    values: dict[str, list[str]] = {}
    for node in nodes:
        attrs = node.attributes
        key = attrs.get("property") or attrs.get("name")
        if key:
            values.setdefault(key.lower(), []).append(attrs.get("content") or "")
    return values


def node_text(node: LexborNode | None) -> str:
    return clean_text(node.text()) if node is not None else ""


def _first_text(tree: LexborHTMLParser | LexborNode, selectors: Iterable[str]) -> str:
    for selector in selectors:
        text = node_text(css_first(tree, selector))
        if text:
            return text
    return ""


def title(tree: LexborHTMLParser, signals: Signals) -> str:
    return (
        signals.ld_text("headline")
        or signals.meta_text("og:title", "twitter:title")
        or _first_text(tree, ("article h1", "h1.entry-title", "main h1"))
        or _title_tag(tree, signals.meta_text("og:site_name") or "The Copenhagen Post")
    )


def _title_tag(tree: LexborHTMLParser, site_name: str) -> str:
    """``<title>`` without the `` - The Copenhagen Post`` suffix WordPress appends."""
    suffix = re.compile(rf"\s+[-–|]\s+{re.escape(site_name)}\s*$")
    return suffix.sub("", node_text(css_first(tree, "title")))


def standfirst(tree: LexborHTMLParser, signals: Signals) -> str:
    return (
        signals.ld_text("description")
        or signals.meta_text("og:description", "description")
        or _first_text(tree, (".entry-excerpt", "article header .excerpt"))
    )


def author(tree: LexborHTMLParser, signals: Signals) -> str:
    return (
        _ld_author(signals.ld.get("author"))
        or signals.meta_text("author", "article:author")
        or _first_text(tree, (".byline .author", '[rel="author"]', ".author"))
    )


def _ld_author(value: Any) -> str:
    """JSON-LD author as text: a name, a Person, or a list of them joined with commas."""
    if isinstance(value, str):
        return clean_text(html.unescape(value))
    if isinstance(value, dict):
        return _ld_author(value.get("name"))
    if isinstance(value, list):
        return ", ".join(name for name in (_ld_author(v) for v in value) if name)
    return ""


def tags(tree: LexborHTMLParser, signals: Signals) -> tuple[str, ...]:
    """JSON-LD keywords, else ``article:tag`` meta, else the byline's tag links."""
    keywords = signals.ld.get("keywords")
    if isinstance(keywords, str):
        keywords = keywords.split(",")
    sources: list[Callable[[], Iterable[str]]] = [
        lambda: keywords if isinstance(keywords, list) else [],
        lambda: signals.meta.get("article:tag", []),
        lambda: (node.text() for node in css(tree, '.tags-links a, a[rel="tag"]')),
    ]
    for source in sources:  # lazily: the markup scan walks the whole page
        found = _unique(clean_text(html.unescape(str(t))) for t in source())
        if found:
            return found
    return ()


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def post_id(tree: LexborHTMLParser, signals: Signals) -> int | None:
    """From the shortlink ``?p=N``, else ``<article id="post-N">``, else ``body.postid-N``."""
    if signals.shortlink is not None:
        found = post_id_from_shortlink_href(signals.shortlink)
        if found is not None:
            return found
    for node in css(tree, "article[id]"):
        match = _POST_ID.match(node.attributes.get("id") or "")
        if match:
            return int(match.group(1))
    body = tree.body
    match = _BODY_POST_ID.search(body.attributes.get("class") or "") if body else None
    return int(match.group(1)) if match else None


def paywalled(tree: LexborHTMLParser, signals: Signals, body: LexborNode) -> bool:
    """JSON-LD ``isAccessibleForFree`` when present, else a paywall box or ``body.is-premium``."""
    free = signals.ld.get("isAccessibleForFree")
    if isinstance(free, bool):
        return not free
    if isinstance(free, str) and free.strip().lower() in ("true", "false"):
        return free.strip().lower() == "false"
    premium_body = css_first(tree, "body.is-premium") is not None
    return premium_body or css_first(body, ".paywall-box, #cph-paywall") is not None


def ld_paywalled_selectors(signals: Signals) -> Iterator[str]:
    """``hasPart.cssSelector`` of parts JSON-LD marks as not free: the paywall box."""
    parts = signals.ld.get("hasPart")
    for part in parts if isinstance(parts, list) else [parts]:
        if isinstance(part, dict) and part.get("isAccessibleForFree") in (False, "false", "False"):
            selector = part.get("cssSelector")
            if isinstance(selector, str) and selector.strip():
                yield selector


# --- dates --------------------------------------------------------------------------------


def published(tree: LexborHTMLParser, signals: Signals) -> datetime | None:
    return _first_date(_published_sources(tree, signals))


def modified(tree: LexborHTMLParser, signals: Signals) -> datetime | None:
    return _first_date(_modified_sources(tree, signals))


def _published_sources(tree: LexborHTMLParser, signals: Signals) -> Iterator[str]:
    yield signals.ld_text("datePublished")
    yield signals.meta_text("article:published_time")
    yield from _time_attrs(tree, ("time.published[datetime]", "article time[datetime]"))


def _modified_sources(tree: LexborHTMLParser, signals: Signals) -> Iterator[str]:
    yield signals.ld_text("dateModified")
    yield signals.meta_text("article:modified_time", "og:updated_time")
    yield from _time_attrs(tree, ("time.updated[datetime]",))


def _time_attrs(tree: LexborHTMLParser, selectors: Iterable[str]) -> Iterator[str]:
    for selector in selectors:
        node = css_first(tree, selector)
        if node is not None:
            yield (node.attributes.get("datetime") or "").strip()


def _first_date(values: Iterable[str]) -> datetime | None:
    """The first value that parses as ISO 8601; a missing offset means Copenhagen time."""
    for value in values:
        try:
            parsed = datetime.fromisoformat(value) if value else None
        except ValueError:
            continue
        if parsed is not None:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=SITE_TZ)
    return None


# --- URL ----------------------------------------------------------------------------------


def canonical_url(signals: Signals, url: str, site: str) -> tuple[str, str] | None:
    """``<link rel=canonical>`` when on-site and an article, else the fetched URL, else og:url;
    with the URL's section (``news/politics``)."""
    hrefs: list[Callable[[], str]] = [
        lambda: signals.canonical or "",
        lambda: url,
        lambda: signals.meta_text("og:url"),
    ]
    for href in (source() for source in hrefs):
        found = canonical_and_section(href, site) if href else None  # None when off-site
        if found is not None:
            return found
    return None
