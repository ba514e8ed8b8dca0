"""Atom 1.0 feeds of the alerts, validated by parsing them with feedparser."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import feedparser
from starlette.testclient import TestClient

from tests.web.conftest import HOSTILE_TITLE, REJECTED, Filled

ATOM = "{http://www.w3.org/2005/Atom}"


def parsed(client: TestClient, path: str) -> feedparser.FeedParserDict:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_the_feed_is_valid_atom_with_one_entry_per_alert_newest_first(client: TestClient) -> None:
    feed = parsed(client, "/feed.atom")
    titles = [e.title for e in feed.entries]
    assert titles[0] == "Article deleted: Denmark oversaw 600 forced repatriations last year"
    changed = (
        "Article changed: Rejected asylum-seekers earmarked for deportation halved in two years"
    )
    assert changed in titles
    assert sum(t.startswith("New article:") for t in titles) == 3
    updated = [e.updated_parsed for e in feed.entries]
    assert updated == sorted(updated, reverse=True)
    assert feed.feed.updated_parsed == updated[0]
    assert feed.feed.author == "cphpost-monitor"


def test_entry_ids_are_stable_tag_uris_whatever_host_serves_the_feed(client: TestClient) -> None:
    first = [e.id for e in parsed(client, "/feed.atom").entries]
    other = client.get("/feed.atom", headers={"host": "monitor.example.org"})
    again = [e.id for e in feedparser.parse(other.content).entries]
    assert first == again
    assert all(i.startswith("tag:cphpost.dk,2024:cphpost-monitor/alert/") for i in first)
    assert len(set(first)) == len(first)


def test_an_entry_links_to_the_diff_and_summarises_the_change(
    client: TestClient, filled: Filled
) -> None:
    feed = parsed(client, "/feed.atom")
    (entry,) = [e for e in feed.entries if e.title.startswith("Article changed: Rejected")]
    links = {link.rel: link.href for link in entry.links}
    assert links["alternate"] == f"http://testserver/articles/{filled.rejected}?from=1&to=2"
    assert links["related"] == REJECTED
    assert "550" in entry.summary and "548" in entry.summary and "→" in entry.summary
    assert client.get(links["alternate"]).status_code == 200
    assert {t.term for t in entry.tags} >= {"asylum"}


def test_a_topic_feed_holds_only_that_topics_alerts(client: TestClient) -> None:
    feed = parsed(client, "/topics/immigration_statistics/feed.atom")
    assert feed.feed.title == "cphpost-monitor alerts: immigration statistics"
    assert feed.entries
    for entry in feed.entries:
        assert "immigration_statistics" in {t.term for t in entry.tags}
    empty = parsed(client, "/topics/no_such_topic/feed.atom")
    assert empty.entries == []
    assert client.get("/topics/%3Cx%3E/feed.atom").status_code == 404


def test_a_hostile_headline_is_text_in_the_feed(client: TestClient) -> None:
    body = client.get("/feed.atom").content
    root = ET.fromstring(body)
    titles = [e.findtext(f"{ATOM}title") for e in root.iter(f"{ATOM}entry")]
    assert f"New article: {HOSTILE_TITLE}" in titles
    assert b"<script>" not in body and b"&lt;script&gt;" in body
