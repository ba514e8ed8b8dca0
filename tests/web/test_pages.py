"""The HTML pages, through the ASGI app, on a database filled by the real write path."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser
from sqlmodel import Session
from starlette.testclient import TestClient

from monitor.web.db import open_readonly
from monitor.web.params import ChangeFilter
from monitor.web.queries import list_changes
from tests.web.conftest import HOSTILE_TITLE, REJECTED, Filled


def html(client: TestClient, path: str, status: int = 200) -> LexborHTMLParser:
    response = client.get(path)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    return LexborHTMLParser(response.text)


def test_the_front_page_lists_every_change_newest_first(client: TestClient) -> None:
    tree = html(client, "/")
    rows = tree.css("tr.change")
    times = [r.css_first("time").attributes["datetime"] for r in rows]
    assert len(rows) == 6  # 3 new articles, 2 edits, 1 deletion
    assert times == sorted(times, reverse=True)
    kinds = [r.css_first(".kinds").text() for r in rows]
    assert kinds[0] == "deleted"
    assert "headline, body, correction" in kinds


def test_every_change_on_the_front_page_links_to_its_article_page_or_diff(
    client: TestClient, filled: Filled
) -> None:
    ids = {filled.rejected, filled.repatriations, filled.hostile}
    for row in html(client, "/").css("tr.change"):
        article = row.css_first("a.article-link").attributes["href"] or ""
        diff = row.css_first("a.diff-link").attributes["href"] or ""
        assert re.fullmatch(r"/articles/(\d+)", article), article
        assert int(article.rsplit("/", 1)[1]) in ids
        assert diff.startswith(article)
        assert client.get(article).status_code == 200
        assert client.get(diff).status_code == 200


def test_an_edit_links_to_the_diff_of_its_two_versions(client: TestClient, filled: Filled) -> None:
    tree = html(client, "/?kind=correction")
    (row,) = tree.css("tr.change")
    link = row.css_first("a.diff-link").attributes["href"]
    assert link == f"/articles/{filled.rejected}?from=1&to=2#diff"


def test_changes_filter_by_topic_kind_significance_and_date(client: TestClient) -> None:
    assert len(html(client, "/?kind=new").css("tr.change")) == 3
    assert len(html(client, "/?kind=deleted").css("tr.change")) == 1
    assert len(html(client, "/?significance=substantive").css("tr.change")) == 6
    assert len(html(client, "/?since=2026-11-21").css("tr.change")) == 0
    assert len(html(client, "/?since=2026-11-20&until=2026-11-20").css("tr.change")) == 6
    asylum = html(client, "/?topic=asylum").css("tr.change")
    assert asylum and all("asylum" in r.css_first(".topics").text() for r in asylum)
    assert html(client, "/?topic=no_such_topic").css("tr.change") == []


def test_topics_are_shown_as_words(client: TestClient) -> None:
    topics = [a.text() for a in html(client, "/").css(".topics a.topic")]
    assert "immigration statistics" in topics
    assert not any("_" in t for t in topics)


def test_changes_are_paginated(client: TestClient, filled: Filled) -> None:
    web = open_readonly(filled.settings)
    with Session(web.engine) as db:
        first = list_changes(db, ChangeFilter(page=1), size=4)
        second = list_changes(db, ChangeFilter(page=2), size=4)
    web.engine.dispose()
    assert (len(first.rows), first.has_next) == (4, True)
    assert (len(second.rows), second.has_next) == (2, False)
    assert not {r.id for r in first.rows} & {r.id for r in second.rows}
    assert html(client, "/?page=2").css("tr.change") == []
    assert html(client, "/?page=2").css_first(".pager a[rel=prev]") is not None


def test_the_article_page_shows_the_timeline_topics_evidence_and_the_live_page(
    client: TestClient, filled: Filled
) -> None:
    tree = html(client, f"/articles/{filled.rejected}")
    rows = tree.css("#timeline tbody tr")
    assert [r.css("td")[1].text() for r in rows] == ["1", "2"]
    assert [r.css("td")[4].text() for r in rows] == ["free", "free"]
    assert "headline, body, correction" in rows[1].css("td")[2].text()
    assert rows[1].css("td")[3].text() == "substantive"
    assert tree.css_first("a.live").attributes["href"] == REJECTED
    topics = [li.text() for li in tree.css(".topic-list li")]
    assert any(t.startswith("asylum") and "“" in t for t in topics)


def test_the_article_page_diffs_the_latest_two_versions_word_by_word_with_ins_and_del(
    client: TestClient, filled: Filled
) -> None:
    tree = html(client, f"/articles/{filled.rejected}")
    headline = tree.css_first(".field-headline .inline")
    assert headline.css_first("del").text() == "Number of rejected"
    assert headline.css_first("ins").text() == "Rejected"
    body = tree.css_first(".field-body .inline")
    assert (body.css_first("del").text(), body.css_first("ins").text()) == ("550", "548")
    assert tree.css_first(".field-correction ins").text().startswith("Correction:")
    sections = [s.css_first("h3").text() for s in tree.css("section.field")]
    assert sections == ["Headline", "Body", "Correction"]


def test_side_by_side_puts_deletions_left_and_insertions_right(
    client: TestClient, filled: Filled
) -> None:
    tree = html(client, f"/articles/{filled.rejected}?from=1&to=2&view=side")
    old = tree.css_first(".field-body .side-by-side .old")
    new = tree.css_first(".field-body .side-by-side .new")
    assert [d.text() for d in old.css("del")] == ["550"] and old.css("ins") == []
    assert [i.text() for i in new.css("ins")] == ["548"] and new.css("del") == []


def test_any_two_versions_can_be_compared_in_either_order(
    client: TestClient, filled: Filled
) -> None:
    tree = html(client, f"/articles/{filled.rejected}?from=2&to=1")
    body = tree.css_first(".field-body .inline")
    assert (body.css_first("del").text(), body.css_first("ins").text()) == ("548", "550")
    same = html(client, f"/articles/{filled.rejected}?from=2&to=2")
    assert "no difference" in same.css_first(".diff-summary").text()


def test_a_deleted_article_shows_the_deletion_in_its_timeline(
    client: TestClient, filled: Filled
) -> None:
    tree = html(client, f"/articles/{filled.repatriations}")
    kinds = [r.css("td")[2].text().strip() for r in tree.css("#timeline tbody tr")]
    assert kinds[0].startswith("new") and kinds[-1].startswith("deleted")
    assert "Only one version" in tree.css_first("#diff").text()


def test_a_hostile_headline_is_escaped_everywhere_it_is_shown(
    client: TestClient, filled: Filled
) -> None:
    for path in (
        "/",
        f"/articles/{filled.hostile}",
        f"/articles/{filled.hostile}?view=side",
        "/search?q=asylum+centre",
    ):
        response = client.get(path)
        assert response.status_code == 200
        tree = LexborHTMLParser(response.text)
        assert tree.css("script") == [], path
        assert tree.css("img") == [], path
        assert [n for n in tree.css("*") if "onerror" in n.attributes] == [], path
        assert "&lt;script&gt;" in response.text, path
    headline = html(client, f"/articles/{filled.hostile}").css_first("h1.headline").text()
    assert headline == HOSTILE_TITLE + " reopens"


def test_bad_parameters_get_a_400_page_without_a_traceback(
    client: TestClient, filled: Filled
) -> None:
    for path in (
        "/?page=x",
        "/?page=0",
        "/?kind=rumour",
        "/?significance=huge",
        "/?since=yesterday",
        "/?since=2026-11-21&until=2026-11-20",
        "/?topic=%3Cscript%3E",
        f"/articles/{filled.rejected}?from=abc",
        f"/articles/{filled.rejected}?view=3d",
        "/search?page=-1&q=x",
        "/search?q=" + "a" * 300,
    ):
        tree = html(client, path, 400)
        assert tree.css_first("h1").text() == "400 Bad request", path
        assert "Traceback" not in tree.html


def test_unknown_ids_and_versions_get_a_404_page(client: TestClient, filled: Filled) -> None:
    for path in (
        "/articles/999999",
        "/articles/99999999999999999999999",
        "/articles/abc",
        f"/articles/{filled.rejected}?to=7",
        f"/articles/{filled.rejected}?from=5&to=1",
        "/no/such/page",
    ):
        tree = html(client, path, 404)
        assert tree.css_first("h1").text() == "404 Not found", path


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'self'" in csp
    assert "script-src" not in csp  # default-src 'none' forbids every script
    assert response.headers["x-content-type-options"] == "nosniff"
    tree = LexborHTMLParser(response.text)
    assert tree.css("style") == [] and [n for n in tree.css("[style]")] == []
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
