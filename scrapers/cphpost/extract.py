"""One cphpost.dk article page to an :class:`~scrapers.article.Article`, or a failure saying why.

Every field is read from the most stable signal first and falls back to the next, so a page
without JSON-LD, or with its meta tags gone, still extracts the same article:

- metadata: JSON-LD ``NewsArticle`` → ``og:``/``article:`` meta → theme markup;
- URL: ``<link rel=canonical>`` (when on-site) → the fetched URL → ``og:url``;
- body: the theme's ``.entry-content``, else schema.org ``[itemprop=articleBody]``.

A page that no longer yields a plausible article becomes an :class:`ExtractionFailure` with a
specific reason, never a half-empty Article: an article that silently lost its body would look
like an edit and raise a false alert. The rules:

- **Truncation.** The document is truncated when it never closes (no ``</html>``) and the cut
  is not provably after the articles (some ``<article>`` left unclosed, or none at all). A page
  cut in its footer still extracts; a page cut anywhere in or before the article fails. When
  JSON-LD gives ``wordCount``, a free article whose body has under 80 % of it fails too.
- **Redesign.** Only the two body containers above are trusted, and after them a
  :class:`~scrapers.template.Template` the caller passes (one learned from the monitor's own
  history by :mod:`scrapers.cphpost.learn`). When none of them matches, the page fails ("no
  article body") even if paragraphs could be scraped from elsewhere: a guessed body that picks
  up the age notice or a caption would change the fingerprint and alert on nothing. Metadata
  falls back freely, because its fallbacks carry the same values.
- **Not an article.** Empty responses, maintenance and error pages served with 200, a page
  without a title, an empty body, and a page whose URL is not an article URL all fail.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from scrapers.article import Article, ExtractionFailure, clean_text
from scrapers.cphpost.decoding import utf8_page
from scrapers.cphpost.urls import (
    DEFAULT_SITE,
    canonicalize,
    post_id_from_shortlink_href,
    section_of,
)
from scrapers.template import Template

SITE_TZ = ZoneInfo("Europe/Copenhagen")  # what the site means by a date without an offset
BODY_CONTAINERS = (".entry-content", '[itemprop="articleBody"]')
BLOCKS = "p, h2, h3, h4, h5, h6, li, blockquote, pre"
FURNITURE = (
    "script, style, noscript, template, iframe, figure, figcaption, form, aside, "
    ".ad-slot, .inline-ad, .advertisement, [id^='div-gpt-ad'], .newsletter-signup, "
    ".related-posts, .more-posts, .connect-club-promo, .teaser, .paywall-box, .wp-caption, "
    ".sharedaddy, .jp-relatedposts, .article-age-notice"
)
ARTICLE_TYPES = frozenset(
    {"NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle", "BlogPosting"}
)
MIN_WORD_RATIO = 0.8
# Signals that count wherever they are: a page holding one after its article is parsed whole.
_TAIL_SIGNALS = (b"ld+json", b"<meta", b"<link")  # <link: canonical, shortlink
_LD_SCRIPT = 'script[type="application/ld+json"]'
_META = "meta[content]"
NO_BODY = "no article body"  # how every failure for a missing body container begins

_READ_MORE = re.compile(r"^\s*(?:read more|also read|læs også)\s*:?\s*", re.I)
_HTML_TAIL = re.compile(rb"</html\s*>(?:\s|<!--.*?-->)*", re.I | re.S)
_ARTICLE_OPEN = re.compile(rb"<article[\s>]", re.I)
_ARTICLE_CLOSE = re.compile(rb"</article\s*>", re.I)
_POST_ID = re.compile(r"^post-(\d+)$")
_BODY_POST_ID = re.compile(r"\bpostid-(\d+)\b")
_MAINTENANCE = re.compile(
    r"maintenance|briefly unavailable|temporarily unavailable|be right back", re.I
)
_ERROR_PAGE = re.compile(r"page not found|not found|\b404\b|\berror\b|nothing found", re.I)
_SOURCE_BREAK = re.compile(r"[ \t]*[\r\n][\s]*")


def extract(
    page: bytes | str,
    url: str,
    site: str = DEFAULT_SITE,
    encoding: str | None = None,
    template: Template | None = None,
) -> Article | ExtractionFailure:
    """The article on ``page`` (fetched from ``url``), or why there is none.

    ``encoding`` is the charset of the HTTP Content-Type, when the response named one.
    ``template``: where the body is when the theme's own containers are missing (a redesign);
    the theme's containers win whenever they are there.
    """
    data = utf8_page(page, encoding)
    if not data or data.isspace():
        return ExtractionFailure(url, "empty response body")
    truncated = truncation(data)
    if truncated:
        return ExtractionFailure(url, truncated)
    head_part = _through_first_article(data)
    tree = LexborHTMLParser(head_part or data)
    body = body_container(tree)
    if body is None and head_part is not None:
        tree = LexborHTMLParser(data)  # a learned template's body may be anywhere, and a
        body = body_container(tree)  # failure is diagnosed on the whole page
    signals = _Signals(tree)
    bodies = [body] if body is not None else template_bodies(tree, template)
    if not bodies:
        return ExtractionFailure(url, _diagnose_missing_body(tree, signals, template))
    canonical = _canonical_url(tree, signals, url, site)
    if canonical is None:
        return ExtractionFailure(url, f"not an article URL on {site}: {url}")
    exclude = template.exclude if body is None and template is not None else ()
    return _build(tree, signals, bodies, canonical, url, exclude)


def _through_first_article(data: bytes) -> bytes | None:
    """The page up to the end of its article, or None: then the whole page is parsed.

    Half of a page is teasers, newsletter box and footer, and parsing them was a third of an
    extraction. Nothing there belongs to the article: the markup fallbacks (byline, ``<h1>``,
    ``<time>``, tag links) are the article's own, and a teaser's author or date must never stand
    in for them. So the part is cut after the first ``</article>`` when it closes the only
    ``<article>`` opened so far and the rest holds no JSON-LD, meta or link tag (a canonical or
    shortlink counts wherever it is). Parsing is streaming: the part's tree is the whole
    page's tree up to the cut.
    """
    end = data.find(b"</article>")
    if end < 0 or data.find(b"<article", data.find(b"<article") + 8, end) >= 0:
        return None
    if any(data.find(signal, end) >= 0 for signal in _TAIL_SIGNALS):
        return None
    return data[: end + len(b"</article>")]


def _build(
    tree: LexborHTMLParser,
    signals: _Signals,
    bodies: list[LexborNode],
    canonical: str,
    url: str,
    exclude: tuple[str, ...] = (),
) -> Article | ExtractionFailure:
    """Assemble the article once the page is known to have a body; check it is plausible.

    Failures name ``url``, the URL the caller gave, like every other failure. ``exclude``: a
    learned template's furniture selectors, stripped with the theme's.
    """
    paywalled = any(_paywalled(tree, signals, body) for body in bodies)
    paragraphs: list[str] = []
    related: list[str] = []
    for body in bodies:
        strip_furniture(body, [*exclude, *_ld_paywalled_selectors(signals)])
        texts, links = body_blocks(body)
        paragraphs += texts
        related += links
    title = _title(tree, signals)
    if not title:
        return ExtractionFailure(url, "no title (JSON-LD headline, og:title or <h1>)")
    if not paragraphs:
        return ExtractionFailure(url, "empty article body: the body has no paragraphs")
    short = _short_of_word_count(signals, paragraphs, paywalled)
    if short:
        return ExtractionFailure(url, short)
    return Article(
        url=canonical,
        title=title,
        standfirst=_standfirst(tree, signals),
        author=_author(tree, signals),
        published=_first_date(_published_sources(tree, signals)),
        modified=_first_date(_modified_sources(tree, signals)),
        section=section_of(canonical),
        tags=_tags(tree, signals),
        post_id=_post_id(tree),
        paywalled=paywalled,
        paragraphs=tuple(paragraphs),
        related_links=tuple(related),
    )


# --- signals ------------------------------------------------------------------------------


class _Signals:
    """The page's JSON-LD article object and its ``<meta>`` values, read once."""

    __slots__ = ("ld", "meta")

    def __init__(self, tree: LexborHTMLParser) -> None:
        # One scan of <head> for both (each scan walks it whole); the page only when missing.
        head = tree.head
        found = head.css(f"{_LD_SCRIPT}, {_META}") if head is not None else []
        scripts = [node for node in found if node.tag == "script"] or tree.css(_LD_SCRIPT)
        metas = [node for node in found if node.tag == "meta"] or tree.css(_META)
        self.ld: dict[str, Any] = _article_in(scripts) or {}
        self.meta: dict[str, list[str]] = _meta_values(metas)

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


def json_ld_article(tree: LexborHTMLParser) -> dict[str, Any] | None:
    """The first ``NewsArticle`` (or other Article type) in the page's JSON-LD blocks."""
    return _article_in(_head_first(tree, _LD_SCRIPT))


def _article_in(scripts: Iterable[LexborNode]) -> dict[str, Any] | None:
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


def _head_first(tree: LexborHTMLParser, selector: str) -> list[LexborNode]:
    """Matches in ``<head>`` (where they belong, and cheap to scan), else in the whole page."""
    head = tree.head
    found = head.css(selector) if head is not None else []
    return found or tree.css(selector)


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


def _node_text(node: LexborNode | None) -> str:
    return clean_text(node.text()) if node is not None else ""


def block_text(node: LexborNode) -> str:
    """Body text as written: trimmed, source line breaks joined, inner spacing kept.

    Unlike metadata it is not whitespace-folded: the record keeps what the newsroom typed
    (double spaces included) and :func:`~scrapers.article.fingerprint` folds it anyway.
    """
    text = node.text()
    if "\n" in text or "\r" in text:
        text = _SOURCE_BREAK.sub(" ", text)
    return text.strip()


def _first_text(tree: LexborHTMLParser | LexborNode, selectors: Iterable[str]) -> str:
    for selector in selectors:
        text = _node_text(tree.css_first(selector))
        if text:
            return text
    return ""


def _title(tree: LexborHTMLParser, signals: _Signals) -> str:
    return (
        signals.ld_text("headline")
        or signals.meta_text("og:title", "twitter:title")
        or _first_text(tree, ("article h1", "h1.entry-title", "main h1"))
        or _title_tag(tree, signals.meta_text("og:site_name") or "The Copenhagen Post")
    )


def _title_tag(tree: LexborHTMLParser, site_name: str) -> str:
    """``<title>`` without the `` - The Copenhagen Post`` suffix WordPress appends."""
    suffix = re.compile(rf"\s+[-–|]\s+{re.escape(site_name)}\s*$")
    return suffix.sub("", _node_text(tree.css_first("title")))


def _standfirst(tree: LexborHTMLParser, signals: _Signals) -> str:
    return (
        signals.ld_text("description")
        or signals.meta_text("og:description", "description")
        or _first_text(tree, (".entry-excerpt", "article header .excerpt"))
    )


def _author(tree: LexborHTMLParser, signals: _Signals) -> str:
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


def _tags(tree: LexborHTMLParser, signals: _Signals) -> tuple[str, ...]:
    """JSON-LD keywords, else ``article:tag`` meta, else the byline's tag links."""
    keywords = signals.ld.get("keywords")
    if isinstance(keywords, str):
        keywords = keywords.split(",")
    sources: list[Callable[[], Iterable[str]]] = [
        lambda: keywords if isinstance(keywords, list) else [],
        lambda: signals.meta.get("article:tag", []),
        lambda: (node.text() for node in tree.css('.tags-links a, a[rel="tag"]')),
    ]
    for source in sources:  # lazily: the markup scan walks the whole page
        tags = _unique(clean_text(html.unescape(str(t))) for t in source())
        if tags:
            return tags
    return ()


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def _post_id(tree: LexborHTMLParser) -> int | None:
    """From the shortlink ``?p=N``, else ``<article id="post-N">``, else ``body.postid-N``."""
    link = tree.css_first('link[rel="shortlink"][href]')
    if link is not None:
        post_id = post_id_from_shortlink_href(link.attributes.get("href") or "")
        if post_id is not None:
            return post_id
    for node in tree.css("article[id]"):
        match = _POST_ID.match(node.attributes.get("id") or "")
        if match:
            return int(match.group(1))
    body = tree.body
    match = _BODY_POST_ID.search(body.attributes.get("class") or "") if body else None
    return int(match.group(1)) if match else None


def _paywalled(tree: LexborHTMLParser, signals: _Signals, body: LexborNode) -> bool:
    """JSON-LD ``isAccessibleForFree`` when present, else a paywall box or ``body.is-premium``."""
    free = signals.ld.get("isAccessibleForFree")
    if isinstance(free, bool):
        return not free
    if isinstance(free, str) and free.strip().lower() in ("true", "false"):
        return free.strip().lower() == "false"
    premium_body = tree.css_first("body.is-premium") is not None
    return premium_body or body.css_first(".paywall-box, #cph-paywall") is not None


# --- dates --------------------------------------------------------------------------------


def _published_sources(tree: LexborHTMLParser, signals: _Signals) -> Iterator[str]:
    yield signals.ld_text("datePublished")
    yield signals.meta_text("article:published_time")
    yield from _time_attrs(tree, ("time.published[datetime]", "article time[datetime]"))


def _modified_sources(tree: LexborHTMLParser, signals: _Signals) -> Iterator[str]:
    yield signals.ld_text("dateModified")
    yield signals.meta_text("article:modified_time", "og:updated_time")
    yield from _time_attrs(tree, ("time.updated[datetime]",))


def _time_attrs(tree: LexborHTMLParser, selectors: Iterable[str]) -> Iterator[str]:
    for selector in selectors:
        node = tree.css_first(selector)
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


def _canonical_url(tree: LexborHTMLParser, signals: _Signals, url: str, site: str) -> str | None:
    """``<link rel=canonical>`` when on-site and an article, else the fetched URL, else og:url."""
    link = tree.css_first('link[rel="canonical"][href]')
    hrefs = [
        link.attributes.get("href") or "" if link is not None else "",
        url,
        signals.meta_text("og:url"),
    ]
    for href in hrefs:
        canonical = canonicalize(href, site) if href else None  # None when off-site
        if canonical is not None:
            return canonical
    return None


# --- body ---------------------------------------------------------------------------------


def body_container(tree: LexborHTMLParser) -> LexborNode | None:
    """The element holding the article text: the theme's, else schema.org microdata's."""
    for selector in BODY_CONTAINERS:
        node = tree.css_first(selector)
        if node is not None:
            return node
    return None


def template_bodies(tree: LexborHTMLParser, template: Template | None) -> list[LexborNode]:
    """The containers a learned template names, in page order, none inside another."""
    if template is None or not template.body:
        return []
    try:
        found = tree.css(", ".join(template.body))
    except SelectolaxError:
        return []  # a stored selector this lexbor cannot parse: as if it matched nothing
    bodies: list[LexborNode] = []
    for node in found:
        if not any(_inside(node, outer) for outer in bodies):
            bodies.append(node)
    return bodies


def _inside(node: LexborNode, outer: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id == outer.mem_id:
            return True
        parent = parent.parent
    return False


def strip_furniture(body: LexborNode, extra: Iterable[str] = ()) -> None:
    """Remove what sits inside the body but is not the article: ads, captions, paywall box,
    and whatever ``extra`` selectors name (a learned template's, JSON-LD's paywalled parts)."""
    for selector in (FURNITURE, *extra):
        try:
            nodes = body.css(selector)
        except SelectolaxError:
            continue  # a selector from the page's JSON-LD that lexbor cannot parse
        for node in nodes:
            node.decompose()
    for br in body.css("br"):
        br.replace_with(" ")


def _ld_paywalled_selectors(signals: _Signals) -> Iterator[str]:
    """``hasPart.cssSelector`` of parts JSON-LD marks as not free: the paywall box."""
    parts = signals.ld.get("hasPart")
    for part in parts if isinstance(parts, list) else [parts]:
        if isinstance(part, dict) and part.get("isAccessibleForFree") in (False, "false", "False"):
            selector = part.get("cssSelector")
            if isinstance(selector, str) and selector.strip():
                yield selector


def body_blocks(body: LexborNode) -> tuple[list[str], list[str]]:
    """Paragraphs and subheads in order, and READ MORE link texts kept apart."""
    paragraphs: list[str] = []
    related: list[str] = []
    for node, text in text_blocks(body):
        if is_read_more(text):
            related.extend(_read_more_titles(node, text))
        else:
            paragraphs.append(text)
    return paragraphs, related


def text_blocks(root: LexborNode) -> Iterator[tuple[LexborNode, str]]:
    """Every innermost block under ``root`` that has text, with its :func:`block_text`.

    Only innermost blocks count (a ``<li>`` holding a ``<p>`` yields the ``<p>``), so nested
    markup never repeats a sentence.
    """
    for node in root.css(BLOCKS):
        # The HTML parser closes a <p> before any other block opens, so a <p> is always
        # innermost; other blocks need the check (css() matches the node itself too).
        if node.tag != "p" and len(node.css(BLOCKS)) > 1:
            continue
        text = block_text(node)
        if text:
            yield node, text


def is_read_more(text: str) -> bool:
    """A "READ MORE: <linked title>" line: related links, not body text."""
    return _READ_MORE.match(text) is not None


def without_read_more(text: str) -> str:
    """The title of a READ MORE line: its text after the label."""
    return _READ_MORE.sub("", text, count=1)


def _read_more_titles(node: LexborNode, text: str) -> list[str]:
    """The linked titles of a READ MORE line, or its text after the label when unlinked."""
    titles = [block_text(a) for a in node.css("a")]
    titles = [t for t in titles if t]
    return titles or [without_read_more(text)]


# --- plausibility -------------------------------------------------------------------------


def truncation(data: bytes) -> str | None:
    """Why the document looks cut off, or None (rule in the module docstring)."""
    end = data.rfind(b"</html")
    if end < 0:
        end = data.lower().rfind(b"</html")
    if end >= 0 and _HTML_TAIL.fullmatch(data, end):
        return None
    opened = len(_ARTICLE_OPEN.findall(data))
    unclosed = opened - len(_ARTICLE_CLOSE.findall(data))
    if opened and unclosed <= 0:
        return None  # cut after every article closed: the article itself is whole
    if not opened:
        return "truncated HTML: ends before </html> and holds no <article>"
    return f"truncated HTML: ends before </html> inside {unclosed} unclosed <article>"


def _short_of_word_count(signals: _Signals, paragraphs: list[str], paywalled: bool) -> str:
    """A free article whose body has far fewer words than JSON-LD ``wordCount`` declares."""
    declared = signals.ld.get("wordCount")
    if paywalled or isinstance(declared, bool) or not isinstance(declared, int | str):
        return ""
    try:
        expected = int(declared)
    except ValueError:
        return ""
    words = sum(len(p.split()) for p in paragraphs)
    if expected > 0 and words < MIN_WORD_RATIO * expected:
        return f"truncated body: {words} words, JSON-LD wordCount says {expected}"
    return ""


def _diagnose_missing_body(
    tree: LexborHTMLParser, signals: _Signals, template: Template | None = None
) -> str:
    """A specific reason for a page without an article body.

    A page that still declares an article (JSON-LD, ``og:type``) is a redesign whatever its
    title says; only pages that declare none are tested for maintenance and error wording.
    """
    if signals.ld or signals.meta_text("og:type") == "article":
        containers = ", ".join((*BODY_CONTAINERS, *(template.body if template else ())))
        return f"{NO_BODY}: none of {containers} found (template redesign?)"
    title = _node_text(tree.css_first("title"))
    heading = _node_text(tree.css_first("h1"))
    visible = f"{title} {heading}"
    body = tree.body
    body_class = (body.attributes.get("class") or "") if body is not None else ""
    if _MAINTENANCE.search(visible) or _MAINTENANCE.search(_node_text(body)[:500]):
        return f"maintenance page served as an article ({title or heading!r})"
    if "error404" in body_class or _ERROR_PAGE.search(visible):
        return f"error page served as an article ({title or heading!r})"
    return "not an article page: no NewsArticle JSON-LD, og:type article or article body"
