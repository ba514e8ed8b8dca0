"""cphpost.dk's side of template learning (:class:`scrapers.site.Redesign`).

The theme's own containers are ``.entry-content`` and ``[itemprop=articleBody]``; a page that
lost both while still declaring an article fails with :data:`~scrapers.cphpost.extract.NO_BODY`;
its JSON-LD ``articleBody``, when there is one, is the text it declares (one line a paragraph,
READ MORE lines as links).
"""

from __future__ import annotations

import html

from selectolax.lexbor import LexborHTMLParser, LexborNode

from scrapers.article import ExtractionFailure, clean_text
from scrapers.cphpost import body
from scrapers.cphpost.decoding import utf8_page
from scrapers.cphpost.extract import NO_BODY
from scrapers.cphpost.fields import json_ld_article
from scrapers.template import Stored


class CphPostRedesign:
    def lost_body(self, failure: ExtractionFailure) -> bool:
        return failure.reason.startswith(NO_BODY)

    def has_own_body(self, page: bytes | str) -> bool:
        data = page.encode("utf-8", errors="replace") if isinstance(page, str) else page
        if b"entry-content" not in data and b"articleBody" not in data:
            return False  # most pages under a learned template: no parse needed
        tree = self.parse(data)
        return tree is not None and body.body_container(tree) is not None

    def declared_text(self, page: bytes | str) -> Stored | None:
        tree = self.parse(page)
        data = json_ld_article(tree) if tree is not None else None
        text = data.get("articleBody") if data else None
        if not isinstance(text, str):
            return None
        lines = [clean_text(html.unescape(line)) for line in text.splitlines()]
        paragraphs = tuple(line for line in lines if line and not body.is_read_more(line))
        related = tuple(body.without_read_more(line) for line in lines if body.is_read_more(line))
        return Stored(paragraphs, related) if paragraphs else None

    def parse(self, page: bytes | str) -> LexborHTMLParser | None:
        data = utf8_page(page, None)
        return LexborHTMLParser(data) if data and not data.isspace() else None

    def own_body(self, tree: LexborHTMLParser) -> LexborNode | None:
        return body.body_container(tree)

    def strip_furniture(self, root: LexborNode) -> None:
        body.strip_furniture(root)

    def is_related(self, text: str) -> bool:
        return body.is_read_more(text)


REDESIGN = CphPostRedesign()
