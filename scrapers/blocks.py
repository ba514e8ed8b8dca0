"""Text blocks of an HTML container, and the containers a learned template names.

Site-independent: how a site's body is split into paragraphs (the block elements, innermost
first) is the same question for every site parsed with lexbor, and template learning
(:mod:`scrapers.learn`) must split a page exactly as the site's extraction does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from scrapers.css import css
from scrapers.template import Template

BLOCKS = "p, h2, h3, h4, h5, h6, li, blockquote, pre"

_SOURCE_BREAK = re.compile(r"[ \t]*[\r\n][\s]*")


def block_text(node: LexborNode) -> str:
    """Body text as written: trimmed, source line breaks joined, inner spacing kept.

    Unlike metadata it is not whitespace-folded: the record keeps what the newsroom typed
    (double spaces included) and :func:`~scrapers.article.fingerprint` folds it anyway.
    """
    text = node.text()
    if "\n" in text or "\r" in text:
        text = _SOURCE_BREAK.sub(" ", text)
    return text.strip()


def text_blocks(root: LexborNode) -> Iterator[tuple[LexborNode, str]]:
    """Every innermost block under ``root`` that has text, with its :func:`block_text`.

    Only innermost blocks count (a ``<li>`` holding a ``<p>`` yields the ``<p>``), so nested
    markup never repeats a sentence. The HTML parser closes a ``<p>`` before any other block
    opens, so a ``<p>`` is always innermost; another block is innermost unless the next block
    in document order (``css()`` lists them so, ``root`` itself included) lies inside it.
    """
    found = css(root, BLOCKS)
    last = len(found) - 1
    for i, node in enumerate(found):
        if node.tag != "p" and i < last and inside(found[i + 1], node, root):
            continue
        text = block_text(node)
        if text:
            yield node, text


def inside(node: LexborNode, outer: LexborNode, stop: LexborNode | None = None) -> bool:
    """Whether ``node`` is a descendant of ``outer`` (looking no higher than ``stop``)."""
    target, limit = outer.mem_id, stop.mem_id if stop is not None else None
    parent = node.parent
    while parent is not None:
        key = parent.mem_id
        if key == target:
            return True
        if key == limit:
            return False
        parent = parent.parent
    return False


def template_bodies(tree: LexborHTMLParser, template: Template | None) -> list[LexborNode]:
    """The containers a learned template names, in page order, none inside another."""
    if template is None or not template.body:
        return []
    try:
        found = css(tree, ", ".join(template.body))
    except SelectolaxError:
        return []  # a stored selector this lexbor cannot parse: as if it matched nothing
    bodies: list[LexborNode] = []
    for node in found:
        if not any(inside(node, outer) for outer in bodies):
            bodies.append(node)
    return bodies
