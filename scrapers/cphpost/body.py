"""The article body of a cphpost.dk page: its container, its furniture, its paragraphs.

The theme keeps the text in ``.entry-content`` (else schema.org ``[itemprop=articleBody]``);
inside it, page furniture (ads, captions, the paywall box, the age notice, related teasers)
never counts as text, and "READ MORE: <title>" lines are related links, not paragraphs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from scrapers.blocks import block_text, text_blocks
from scrapers.css import css, css_first

BODY_CONTAINERS = (".entry-content", '[itemprop="articleBody"]')
FURNITURE = (
    "script, style, noscript, template, iframe, figure, figcaption, form, aside, "
    ".ad-slot, .inline-ad, .advertisement, [id^='div-gpt-ad'], .newsletter-signup, "
    ".related-posts, .more-posts, .connect-club-promo, .teaser, .paywall-box, .wp-caption, "
    ".sharedaddy, .jp-relatedposts, .article-age-notice"
)
_FURNITURE_OR_BREAK = f"{FURNITURE}, br"  # one walk of the body when nothing else is excluded

_READ_MORE = re.compile(r"^\s*(?:read more|also read|læs også)\s*:?\s*", re.I)


def body_container(tree: LexborHTMLParser) -> LexborNode | None:
    """The element holding the article text: the theme's, else schema.org microdata's."""
    for selector in BODY_CONTAINERS:
        node = css_first(tree, selector)
        if node is not None:
            return node
    return None


def strip_furniture(body: LexborNode, extra: Iterable[str] = ()) -> None:
    """Remove what sits inside the body but is not the article: ads, captions, paywall box,
    and whatever ``extra`` selectors name (a learned template's, JSON-LD's paywalled parts);
    line breaks become spaces."""
    extra = tuple(extra)
    if not extra:
        # The furniture selectors are not structural, so removing one match changes no other
        # match; a <br> inside removed furniture is replaced in a detached subtree, unseen.
        for node in css(body, _FURNITURE_OR_BREAK):
            if node.tag == "br":
                node.replace_with(" ")
            else:
                node.decompose()
        return
    for selector in (FURNITURE, *extra):
        try:
            nodes = css(body, selector)
        except SelectolaxError:
            continue  # a selector from the page's JSON-LD that lexbor cannot parse
        for node in nodes:
            node.decompose()
    for br in css(body, "br"):
        br.replace_with(" ")


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


def is_read_more(text: str) -> bool:
    """A "READ MORE: <linked title>" line: related links, not body text."""
    return _READ_MORE.match(text) is not None


def without_read_more(text: str) -> str:
    """The title of a READ MORE line: its text after the label."""
    return _READ_MORE.sub("", text, count=1)


def _read_more_titles(node: LexborNode, text: str) -> list[str]:
    """The linked titles of a READ MORE line, or its text after the label when unlinked."""
    titles = [block_text(a) for a in css(node, "a")]
    titles = [t for t in titles if t]
    return titles or [without_read_more(text)]
