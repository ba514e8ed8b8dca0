"""The site seam: sites are loaded by name, and each one offers everything the service uses."""

from __future__ import annotations

from datetime import date

import pytest

from scrapers.site import Site, SiteError, load, registered

ORIGIN = "http://127.0.0.1:8123"


def test_the_copenhagen_post_is_the_site_named_cphpost() -> None:
    site = load("cphpost")

    assert isinstance(site, Site)
    assert (site.name, site.default_origin) == ("cphpost", "https://cphpost.dk")
    assert site.feed_paths == ("/feed/", "/category/news/feed/", "/tag/asylum/feed/")
    assert site.sitemap_index_path == "/sitemap_index.xml"
    assert "cphpost" in registered()


def test_a_site_outside_scrapers_loads_by_its_module_path() -> None:
    site = load("tests.sites.gazette")

    assert isinstance(site, Site)
    assert site.name == "gazette"
    assert site.canonicalize("/NEWS/Harbour-Opens.html?x=1", ORIGIN) == (
        f"{ORIGIN}/news/harbour-opens.html"
    )
    assert site.canonicalize("https://elsewhere.example/news/a.html", ORIGIN) is None


def test_an_unknown_site_is_one_line_naming_it() -> None:
    with pytest.raises(SiteError) as caught:
        load("no_such_site")

    message = str(caught.value)
    assert message.startswith("no site 'no_such_site': cannot import scrapers.no_such_site")
    assert "\n" not in message


def test_cphpost_reads_the_publication_day_from_its_url_layout() -> None:
    site = load("cphpost")

    assert site.article_day(f"{ORIGIN}/2015-09-16/news/danish-asylum-conditions/") == date(
        2015, 9, 16
    )
    assert site.article_day(f"{ORIGIN}/2015-02-30/news/no-such-day/") is None
    assert site.article_day(f"{ORIGIN}/category/news/") is None


def test_cphpost_counts_listing_pages_from_the_wordpress_pagination() -> None:
    site = load("cphpost")
    body = b'<a href="/category/news/page/2/">2</a> <a href="/category/news/page/40/">40</a>'

    assert site.listing_pages_left(body, "/category/news/") == 40
    assert site.listing_pages_left(body, "/category/news/page/2/") == 39
    assert site.listing_pages_left(b"<p>no pagination</p>", "/category/news/") is None


def test_cphpost_offers_template_learning_through_its_redesign_member() -> None:
    from scrapers.article import ExtractionFailure
    from tests.scrapers.recorded import FREE_STEM, read_bytes
    from tests.support.redesign import redesigned

    rules = load("cphpost").redesign
    assert rules is not None
    assert rules.lost_body(ExtractionFailure("u", "no article body: none of .x found"))
    assert not rules.lost_body(ExtractionFailure("u", "truncated HTML: ends before </html>"))
    assert rules.has_own_body(read_bytes(f"articles/{FREE_STEM}.html"))
    assert not rules.has_own_body(redesigned("renamed", FREE_STEM))
    assert rules.is_related("READ MORE: Asylum figures") and not rules.is_related("Asylum.")


def test_a_site_without_a_redesign_member_value_is_never_learned() -> None:
    from scrapers import learn
    from scrapers.learn import Evidence
    from scrapers.template import Stored

    site = load("tests.sites.gazette")
    assert site.redesign is None
    evidence = Evidence(f"{ORIGIN}/news/a.html", b"<p>x</p>", Stored(("x",)), ORIGIN)
    with pytest.raises(ValueError, match="offers no template learning"):
        learn.learn(site, evidence)
