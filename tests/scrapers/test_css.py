"""The shared CSS engine answers exactly as selectolax's per-document one."""

from __future__ import annotations

import threading

import pytest
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from scrapers.cphpost.body import FURNITURE
from scrapers.css import css, css_first
from tests.scrapers.recorded import expected_stems, read_bytes

QUERIES = (FURNITURE, "p, h2, h3, li", ".entry-content", 'link[rel="canonical"][href]', "zzz")


def test_every_query_matches_the_same_nodes_as_the_documents_own_engine() -> None:
    for stem in expected_stems():
        tree = LexborHTMLParser(read_bytes(f"articles/{stem}.html"))
        for query in QUERIES:
            assert [n.mem_id for n in css(tree, query)] == [n.mem_id for n in tree.css(query)]
            first, own = css_first(tree, query), tree.css_first(query)
            assert (first.mem_id if first else None) == (own.mem_id if own else None)
            body = tree.body
            assert body is not None
            assert [n.mem_id for n in css(body, query)] == [n.mem_id for n in body.css(query)]


def test_a_selector_lexbor_cannot_parse_raises_as_before() -> None:
    tree = LexborHTMLParser(b"<p>x</p>")
    with pytest.raises(SelectolaxError):
        css(tree, "p[")


def test_queries_from_several_threads_each_get_their_own_matches() -> None:
    results: dict[int, list[str]] = {}

    def count(n: int) -> None:
        tree = LexborHTMLParser(b"<div>" + b"".join(b"<p>%d</p>" % i for i in range(n)) + b"</div>")
        results[n] = [p.text() for p in css(tree, "p")]

    threads = [threading.Thread(target=count, args=(n,)) for n in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {n: [str(i) for i in range(n)] for n in range(1, 5)}
