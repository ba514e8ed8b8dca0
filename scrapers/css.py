"""CSS queries through one lexbor selector engine per thread, not one per parsed page.

selectolax gives every parsed document its own ``LexborCSSSelector`` on the first query, and
creating and freeing one (CSS parser, selector engine, their memory pools) costs about as much
as parsing a whole article page. The engine holds no document state between queries (each
query is parsed, run and freed; results belong to the queried node's document), so one per
thread serves every page that thread reads. Same results as ``node.css()`` and
``node.css_first()``, and the same :class:`~selectolax.lexbor.SelectolaxError` for a selector
lexbor cannot parse.
"""

from __future__ import annotations

import threading

from selectolax.lexbor import LexborCSSSelector, LexborHTMLParser, LexborNode

_LOCAL = threading.local()


def _engine() -> LexborCSSSelector:
    engine: LexborCSSSelector | None = getattr(_LOCAL, "engine", None)
    if engine is None:
        engine = _LOCAL.engine = LexborCSSSelector()
    return engine


def _start(where: LexborHTMLParser | LexborNode) -> LexborNode | None:
    return where.root if isinstance(where, LexborHTMLParser) else where


def css(where: LexborHTMLParser | LexborNode, query: str) -> list[LexborNode]:
    """Every element under ``where`` (itself included) matching ``query``, in page order."""
    node = _start(where)
    return _engine().find(query, node) if node is not None else []


def css_first(where: LexborHTMLParser | LexborNode, query: str) -> LexborNode | None:
    """The first element under ``where`` (itself included) matching ``query``, or None."""
    node = _start(where)
    # find_first is public (cpdef) though selectolax's stub does not list it
    found = _engine().find_first(query, node) if node is not None else []  # type: ignore[attr-defined]
    return found[0] if found else None
