"""Discovery: feeds, sitemaps and listings yield exactly the articles they list, safely.

Expectations are read from the fixture files by regex (``<item>``/``<url>`` counts, teaser
links in the archive list), independently of the parsers under test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from scrapers.article import Candidate
from scrapers.cphpost import (
    DiscoveryError,
    Listing,
    SitemapRef,
    parse_feed,
    parse_listing,
    parse_sitemap,
    parse_sitemap_index,
)
from tests.scrapers.recorded import (
    LIVE,
    MIRROR,
    archive_teaser_links,
    entries,
    hostile,
    read_bytes,
    xml_values,
)

CET = timezone(timedelta(hours=1))
FEEDS = ["feeds/feed.xml", "feeds/category-news-feed.xml", "feeds/tag-asylum-feed.xml"]
SITEMAPS = ["sitemaps/post-sitemap.xml", "sitemaps/post-sitemap2.xml"]
LISTINGS = {
    "listings/category-news-page-1.html": f"{LIVE}/category/news/page/2/",
    "listings/category-news-page-2.html": f"{LIVE}/category/news/page/3/",
    "listings/category-news-page-3.html": f"{LIVE}/category/news/page/4/",
    "listings/category-news-page-4.html": None,
    "listings/tag-asylum-page-1.html": None,
}
Parser = Callable[[bytes, str], Any]
XML_PARSERS: list[Parser] = [parse_feed, parse_sitemap, parse_sitemap_index]


def urls(candidates: list[Candidate] | tuple[Candidate, ...]) -> list[str]:
    return [c.url for c in candidates]


# --- feeds --------------------------------------------------------------------------------


@pytest.mark.parametrize("feed", FEEDS)
def test_feed_yields_every_item_link_in_order(feed: str) -> None:
    links = xml_values(feed, "link", "item")
    assert len(links) == read_bytes(feed).count(b"<item>")
    assert urls(parse_feed(read_bytes(feed), LIVE)) == links


@pytest.mark.parametrize("feed", FEEDS)
def test_feed_candidates_are_marked_as_from_the_feed(feed: str) -> None:
    assert {c.source for c in parse_feed(read_bytes(feed), LIVE)} == {"feed"}


def test_feed_item_carries_title_pubdate_and_categories() -> None:
    rejected = parse_feed(read_bytes("feeds/feed.xml"), LIVE)[2]
    assert rejected == Candidate(
        url=f"{LIVE}/2023-05-22/news/number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/",
        source="feed",
        title="Number of rejected asylum-seekers earmarked for deportation halved in two years",
        published=datetime(2023, 5, 22, 8, 40, tzinfo=UTC),
        categories=("News", "asylum", "deportation"),
    )


def test_feed_pubdate_is_timezone_aware() -> None:
    assert all(c.published and c.published.tzinfo for c in parse_feed(read_bytes(FEEDS[0]), LIVE))


def test_feed_on_a_mirror_yields_mirror_urls() -> None:
    mirrored = read_bytes("feeds/feed.xml").replace(LIVE.encode(), MIRROR.encode())
    links = [link.replace(LIVE, MIRROR) for link in xml_values("feeds/feed.xml", "link", "item")]
    assert urls(parse_feed(mirrored, MIRROR)) == links


def test_feed_links_to_another_origin_are_dropped() -> None:
    assert parse_feed(read_bytes("feeds/feed.xml"), MIRROR) == []


def test_feed_drops_off_site_and_non_article_links_and_folds_duplicates() -> None:
    own = xml_values("feeds/tag-asylum-feed.xml", "link", "item")
    assert urls(parse_feed(hostile("feed-mixed-links.xml"), LIVE)) == own


def test_feed_accepts_text() -> None:
    text = read_bytes("feeds/tag-asylum-feed.xml").decode("utf-8")
    assert len(parse_feed(text, LIVE)) == 8


# --- sitemaps -----------------------------------------------------------------------------


def test_sitemap_index_lists_both_post_sitemaps_with_lastmod() -> None:
    assert parse_sitemap_index(read_bytes("sitemaps/sitemap_index.xml"), LIVE) == [
        SitemapRef(f"{LIVE}/post-sitemap.xml", datetime(2016, 2, 6, 10, 1, tzinfo=CET)),
        SitemapRef(f"{LIVE}/post-sitemap2.xml", datetime(2025, 5, 7, 8, 40, tzinfo=CET)),
    ]


def test_sitemap_index_refs_follow_the_mirror() -> None:
    mirrored = read_bytes("sitemaps/sitemap_index.xml").replace(LIVE.encode(), MIRROR.encode())
    refs = parse_sitemap_index(mirrored, MIRROR)
    assert [r.url for r in refs] == [f"{MIRROR}/post-sitemap.xml", f"{MIRROR}/post-sitemap2.xml"]


@pytest.mark.parametrize("sitemap", SITEMAPS)
def test_sitemap_yields_every_loc_in_order(sitemap: str) -> None:
    locs = xml_values(sitemap, "loc", "url")
    assert len(locs) == read_bytes(sitemap).count(b"<url>")
    assert urls(parse_sitemap(read_bytes(sitemap), LIVE)) == locs


def test_sitemap_candidate_carries_lastmod() -> None:
    first = parse_sitemap(read_bytes(SITEMAPS[0]), LIVE)[0]
    assert first == Candidate(
        url=f"{LIVE}/2012-07-03/general/fewer-than-2000-roskilde-tickets-left/",
        source="sitemap",
        lastmod=datetime(2012, 7, 3, 12, 39, tzinfo=CET),
    )


def test_sitemaps_together_list_every_recorded_article_once() -> None:
    found = [u for s in SITEMAPS for u in urls(parse_sitemap(read_bytes(s), LIVE))]
    assert sorted(found) == sorted(e["url"] for e in entries("article"))


def test_sitemap_date_only_lastmod_is_midnight_utc() -> None:
    doc = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url>'
        b"<loc>https://cphpost.dk/2016-04-02/general/early-april-events-pillows-at-the-ready/</loc>"
        b"<lastmod>2016-04-02</lastmod></url></urlset>"
    )
    assert parse_sitemap(doc, LIVE)[0].lastmod == datetime(2016, 4, 2, tzinfo=UTC)


# --- listings -----------------------------------------------------------------------------


@pytest.mark.parametrize("listing", LISTINGS)
def test_listing_yields_the_archive_teasers_in_order(listing: str) -> None:
    parsed = parse_listing(read_bytes(listing), LIVE)
    assert urls(parsed.candidates) == archive_teaser_links(listing)


@pytest.mark.parametrize(("listing", "next_page"), LISTINGS.items())
def test_listing_next_page(listing: str, next_page: str | None) -> None:
    assert parse_listing(read_bytes(listing), LIVE).next_page == next_page


def test_listing_candidate_carries_title_date_and_category() -> None:
    first = parse_listing(read_bytes("listings/category-news-page-4.html"), LIVE).candidates[0]
    assert first == Candidate(
        url=f"{LIVE}/2014-01-21/general/police-turn-blind-eye-to-illegal-immigrant-clinics/",
        source="listing",
        title="Police turn blind eye to illegal immigrant clinics",
        published=datetime(2014, 1, 21, 14, 33, tzinfo=CET),
        categories=("General",),
    )


def test_listing_ignores_ticker_related_and_sidebar_teasers() -> None:
    parsed = parse_listing(hostile("listing-with-furniture.html"), LIVE)
    assert parsed == Listing(
        tuple(parse_listing(read_bytes("listings/category-news-page-2.html"), LIVE).candidates),
        f"{LIVE}/category/news/page/3/",
    )


def test_listing_on_a_mirror_follows_the_mirror() -> None:
    page = read_bytes("listings/category-news-page-1.html").replace(LIVE.encode(), MIRROR.encode())
    parsed = parse_listing(page, MIRROR)
    assert parsed.next_page == f"{MIRROR}/category/news/page/2/"
    assert all(u.startswith(f"{MIRROR}/") for u in urls(parsed.candidates))


def test_empty_archive_is_an_empty_listing() -> None:
    page = '<html><body><main><section class="no-results"><h1>Nothing Found</h1></section></main>'
    assert parse_listing(page, LIVE) == Listing(())


def test_page_without_an_article_list_is_a_discovery_error() -> None:
    with pytest.raises(DiscoveryError, match="no article list"):
        parse_listing(hostile("maintenance-200.html"), LIVE)


# --- hostile XML --------------------------------------------------------------------------


@pytest.mark.parametrize("parser", XML_PARSERS, ids=lambda p: p.__name__)
@pytest.mark.parametrize(
    "name",
    [
        "feed-billion-laughs.xml",
        "sitemap-billion-laughs.xml",
        "feed-external-entity.xml",
        "sitemap-external-entity.xml",
        "sitemap-index-external-entity.xml",
    ],
)
def test_entity_tricks_are_refused_not_expanded(parser: Parser, name: str) -> None:
    with pytest.raises(DiscoveryError, match="refused unsafe XML"):
        parser(hostile(name), LIVE)


@pytest.mark.parametrize("parser", XML_PARSERS, ids=lambda p: p.__name__)
def test_html_maintenance_page_is_not_a_feed(parser: Parser) -> None:
    with pytest.raises(DiscoveryError, match="HTML page, not XML"):
        parser(hostile("maintenance-200.html"), LIVE)


@pytest.mark.parametrize("parser", XML_PARSERS, ids=lambda p: p.__name__)
def test_article_page_is_not_a_feed(parser: Parser) -> None:
    page = read_bytes("articles/2016-04-02-early-april-events-pillows-at-the-ready.html")
    with pytest.raises(DiscoveryError, match="HTML page, not XML"):
        parser(page, LIVE)


@pytest.mark.parametrize("parser", XML_PARSERS, ids=lambda p: p.__name__)
@pytest.mark.parametrize("data", [b"", b"   \n", b"<rss><channel><item>", b"not xml at all"])
def test_empty_or_broken_xml_is_a_discovery_error(parser: Parser, data: bytes) -> None:
    with pytest.raises(DiscoveryError):
        parser(data, LIVE)


@pytest.mark.parametrize(
    ("parser", "document", "root"),
    [
        (parse_feed, "sitemaps/post-sitemap.xml", "urlset"),
        (parse_sitemap, "feeds/feed.xml", "rss"),
        (parse_sitemap, "sitemaps/sitemap_index.xml", "sitemapindex"),
        (parse_sitemap_index, "sitemaps/post-sitemap.xml", "urlset"),
    ],
)
def test_wrong_kind_of_document_is_a_discovery_error(
    parser: Parser, document: str, root: str
) -> None:
    with pytest.raises(DiscoveryError, match=root):
        parser(read_bytes(document), LIVE)


def test_discovery_error_is_a_value_error() -> None:
    assert issubclass(DiscoveryError, ValueError)


def feed_with_pubdate(pub_date: str) -> bytes:
    return (
        '<rss version="2.0"><channel><item><title>T</title>'
        "<link>https://cphpost.dk/2016-04-02/general/early-april-events-pillows-at-the-ready/</link>"
        f"<pubDate>{pub_date}</pubDate></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("pub_date", "published"),
    [
        ("Sat, 02 Apr 2016 10:41:00 +0000", datetime(2016, 4, 2, 10, 41, tzinfo=UTC)),
        ("Sat, 02 Apr 2016 10:41:00 -0000", datetime(2016, 4, 2, 10, 41, tzinfo=UTC)),
        ("Sat, 02 Apr 2016 12:41:00 +0200", datetime(2016, 4, 2, 10, 41, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_feed_pubdate_is_aware_or_none(pub_date: str, published: datetime | None) -> None:
    assert parse_feed(feed_with_pubdate(pub_date), LIVE)[0].published == published
