"""Full-text search over every stored version (SQLite FTS5 side index)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser
from sqlmodel import Session
from starlette.testclient import TestClient

from monitor.web.app import create_app
from monitor.web.db import open_readonly
from monitor.web.search import SearchIndex, fts5_query
from tests.web.conftest import REJECTED, T0, Filled, fill, page, record_page


def hits(client: TestClient, query: str) -> list[str]:
    response = client.get("/search", params={"q": query})
    assert response.status_code == 200
    tree = LexborHTMLParser(response.text)
    return [a.text() for a in tree.css(".hit a.article-link")]


def test_search_finds_every_article_holding_the_words(client: TestClient) -> None:
    found = hits(client, "forced repatriations")
    assert found == ["Denmark oversaw 600 forced repatriations last year"]
    assert len(hits(client, "asylum")) == 3


def test_search_stems_english_words(client: TestClient) -> None:
    assert hits(client, "repatriation") == hits(client, "repatriations")


def test_search_finds_text_that_only_an_old_version_had(client: TestClient) -> None:
    """The corrected story no longer says 550; its first version did."""
    tree = LexborHTMLParser(client.get("/search", params={"q": "Number of rejected"}).text)
    links = [a.attributes["href"] for a in tree.css(".hit a.article-link")]
    assert any(link and link.endswith("?to=1") for link in links)


def test_search_marks_the_words_in_an_escaped_snippet(client: TestClient) -> None:
    tree = LexborHTMLParser(client.get("/search", params={"q": "departure"}).text)
    marks = [m.text() for m in tree.css(".snippet mark")]
    assert marks and all(m.lower().startswith("departure") for m in marks)


def test_search_syntax_in_the_query_is_only_text(client: TestClient) -> None:
    for query in ('"', "NEAR(", "asylum OR", "title:x", "*", "a AND NOT b", "^^"):
        assert client.get("/search", params={"q": query}).status_code == 200
    assert fts5_query('asylum "forced repatriations" depor* NOT') == (
        '"asylum" "forced repatriations" "depor"* "NOT"'
    )


def test_an_empty_query_shows_the_form_only(client: TestClient) -> None:
    assert hits(client, "") == []


def test_the_index_takes_in_versions_the_daemon_stores_while_the_web_view_runs(
    tmp_path: Path,
) -> None:
    filled = fill(f"sqlite:///{tmp_path / 'm.sqlite3'}", tmp_path / "data")
    web = open_readonly(filled.settings)
    index = SearchIndex(web)
    assert index.refresh() == 5
    assert index.refresh() == 0
    edited = page("versions/2023-05-22-rejected-asylum-seekers.corrected.html", REJECTED)
    edited = replace(edited, paragraphs=(*edited.paragraphs, "Zanzibar ferries were also named."))
    at = T0 + timedelta(days=1)
    assert record_page(filled.settings, REJECTED, edited, at) == "changed"
    with Session(web.engine) as db:
        found = index.search(db, "zanzibar", 1).hits
    assert [(h.article_id, h.seq) for h in found] == [(filled.rejected, 3)]
    assert index.refresh() == 0
    web.engine.dispose()


def test_only_the_newest_matching_versions_are_ranked_and_the_page_says_when_more_match(
    filled: Filled,
) -> None:
    """Five versions of three articles hold "asylum"; ranking the newest two leaves one out."""
    web = open_readonly(filled.settings)
    with Session(web.engine) as db:
        bounded = SearchIndex(web, rank_limit=2).search(db, "asylum", 1)
        exact = SearchIndex(web, rank_limit=5).search(db, "asylum", 1)
    assert bounded.capped and not exact.capped
    assert sorted((h.article_id, h.seq, h.matching_versions) for h in bounded.hits) == [
        (filled.rejected, 2, 1),
        (filled.hostile, 2, 1),
    ]
    assert sorted((h.article_id, h.matching_versions) for h in exact.hits) == [
        (filled.rejected, 2),
        (filled.repatriations, 1),
        (filled.hostile, 2),
    ]
    app = create_app(filled.settings, web)
    app.state.web.index = SearchIndex(web, rank_limit=2)
    tree = LexborHTMLParser(TestClient(app).get("/search", params={"q": "asylum"}).text)
    notice = tree.css_first("p.capped")
    assert notice is not None and "newest 2 of them" in notice.text()
    assert len(tree.css(".hit")) == 2
    web.engine.dispose()


def test_a_search_under_the_rank_limit_says_nothing_of_it(client: TestClient) -> None:
    tree = LexborHTMLParser(client.get("/search", params={"q": "asylum"}).text)
    assert tree.css("p.capped") == [] and len(tree.css(".hit")) == 3
