"""One cphpost.dk article page to an :class:`~scrapers.article.Article`, or a failure saying why.

The fields are read in :mod:`scrapers.cphpost.fields`, the body in :mod:`scrapers.cphpost.body`;
this module parses the page, assembles the article and decides whether it is plausible.

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
  history by :mod:`scrapers.learn`). When none of them matches, the page fails ("no
  article body") even if paragraphs could be scraped from elsewhere: a guessed body that picks
  up the age notice or a caption would change the fingerprint and alert on nothing. Metadata
  falls back freely, because its fallbacks carry the same values.
- **Not an article.** Empty responses, maintenance and error pages served with 200, a page
  without a title, an empty body, and a page whose URL is not an article URL all fail.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scrapers.article import Article, ExtractionFailure
from scrapers.blocks import template_bodies
from scrapers.cphpost import fields
from scrapers.cphpost.body import BODY_CONTAINERS, body_blocks, body_container, strip_furniture
from scrapers.cphpost.decoding import utf8_page
from scrapers.cphpost.fields import Signals, node_text
from scrapers.cphpost.urls import DEFAULT_SITE
from scrapers.css import css_first
from scrapers.template import Template

MIN_WORD_RATIO = 0.8
NO_BODY = "no article body"  # how every failure for a missing body container begins

_HTML_TAIL = re.compile(rb"</html\s*>(?:\s|<!--.*?-->)*", re.I | re.S)
_ARTICLE_OPEN = re.compile(rb"<article[\s>]", re.I)
_ARTICLE_CLOSE = re.compile(rb"</article\s*>", re.I)
# The cut (see _through_first_article) scans with patterns that begin with "<": the regex
# engine skips to each "<" in C, where three bytes.find calls would read the tail three times.
_ARTICLE_TAG = re.compile(rb"<(?:article|/article>)")
_TAIL_TAG = re.compile(rb"<(?:meta|link)")  # <link: canonical, shortlink
_LD = b"ld+json"
_MAINTENANCE = re.compile(
    r"maintenance|briefly unavailable|temporarily unavailable|be right back", re.I
)
_ERROR_PAGE = re.compile(r"page not found|not found|\b404\b|\berror\b|nothing found", re.I)


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
    signals = Signals(tree)
    bodies = [body] if body is not None else template_bodies(tree, template)
    if not bodies:
        return ExtractionFailure(url, _diagnose_missing_body(tree, signals, template))
    canonical = fields.canonical_url(signals, url, site)
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
    opened = 0
    for match in _ARTICLE_TAG.finditer(data):
        if match[0] != b"</article>":
            opened += 1
            if opened > 1:
                return None  # a second <article> before the first closes
            continue
        end = match.end()
        if _TAIL_TAG.search(data, end) is not None or _has_ld(data, end):
            return None
        return data[:end]
    return None


def _has_ld(data: bytes, start: int) -> bool:
    """Whether ``ld+json`` occurs from ``start`` on: finding its rare ``+`` is a memchr."""
    at = data.find(b"+", start + 2)
    for _ in range(16):  # a tail full of "+" (inline scripts): one plain search instead
        if at < 0:
            return False
        if data[at - 2 : at + 5] == _LD:
            return True
        at = data.find(b"+", at + 1)
    return at >= 0 and data.find(_LD, at - 2) >= 0


def _build(
    tree: LexborHTMLParser,
    signals: Signals,
    bodies: list[LexborNode],
    canonical: tuple[str, str],
    url: str,
    exclude: tuple[str, ...] = (),
) -> Article | ExtractionFailure:
    """Assemble the article once the page is known to have a body; check it is plausible.

    Failures name ``url``, the URL the caller gave, like every other failure. ``exclude``: a
    learned template's furniture selectors, stripped with the theme's. ``canonical``: the
    article's URL and section.
    """
    paywalled = any(fields.paywalled(tree, signals, body) for body in bodies)
    paragraphs: list[str] = []
    related: list[str] = []
    for body in bodies:
        strip_furniture(body, [*exclude, *fields.ld_paywalled_selectors(signals)])
        texts, links = body_blocks(body)
        paragraphs += texts
        related += links
    title = fields.title(tree, signals)
    if not title:
        return ExtractionFailure(url, "no title (JSON-LD headline, og:title or <h1>)")
    if not paragraphs:
        return ExtractionFailure(url, "empty article body: the body has no paragraphs")
    short = _short_of_word_count(signals, paragraphs, paywalled)
    if short:
        return ExtractionFailure(url, short)
    return Article(
        url=canonical[0],
        title=title,
        standfirst=fields.standfirst(tree, signals),
        author=fields.author(tree, signals),
        published=fields.published(tree, signals),
        modified=fields.modified(tree, signals),
        section=canonical[1],
        tags=fields.tags(tree, signals),
        post_id=fields.post_id(tree, signals),
        paywalled=paywalled,
        paragraphs=tuple(paragraphs),
        related_links=tuple(related),
    )


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


def _short_of_word_count(signals: Signals, paragraphs: list[str], paywalled: bool) -> str:
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
    tree: LexborHTMLParser, signals: Signals, template: Template | None = None
) -> str:
    """A specific reason for a page without an article body.

    A page that still declares an article (JSON-LD, ``og:type``) is a redesign whatever its
    title says; only pages that declare none are tested for maintenance and error wording.
    """
    if signals.ld or signals.meta_text("og:type") == "article":
        containers = ", ".join((*BODY_CONTAINERS, *(template.body if template else ())))
        return f"{NO_BODY}: none of {containers} found (template redesign?)"
    title = node_text(css_first(tree, "title"))
    heading = node_text(css_first(tree, "h1"))
    visible = f"{title} {heading}"
    body = tree.body
    body_class = (body.attributes.get("class") or "") if body is not None else ""
    if _MAINTENANCE.search(visible) or _MAINTENANCE.search(node_text(body)[:500]):
        return f"maintenance page served as an article ({title or heading!r})"
    if "error404" in body_class or _ERROR_PAGE.search(visible):
        return f"error page served as an article ({title or heading!r})"
    return "not an article page: no NewsArticle JSON-LD, og:type article or article body"
