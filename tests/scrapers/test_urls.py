"""URL rules: which URLs are articles on the watched site, and their canonical spelling."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapers.cphpost import (
    DEFAULT_SITE,
    canonicalize,
    is_article_url,
    old_site_post_id,
    same_site,
    section_of,
    shortlink_post_id,
)
from tests.scrapers.recorded import LIVE, MIRROR, entries, post_ids_by_url

ARTICLE = f"{LIVE}/2016-03-18/news/government-secures-three-party-deal-on-integration/"
SUB_SECTION = f"{LIVE}/2013-04-22/news/politics/growth-bill-clears-first-hurdle/"
REDIRECTS = entries("redirect")
SLASHLESS = [e for e in REDIRECTS if "?p=" not in e["url"] and not e["url"].endswith(".html")]
SHORTLINKS = [e for e in REDIRECTS if "?p=" in e["url"]]
OLD_SITE = [e for e in REDIRECTS if e["url"].endswith(".html")]


def test_default_site_is_the_live_origin() -> None:
    assert DEFAULT_SITE == "https://cphpost.dk"


@pytest.mark.parametrize("entry", entries("article"), ids=lambda e: e["file"][9:40])
def test_recorded_article_url_is_already_canonical(entry: dict[str, str]) -> None:
    assert canonicalize(entry["url"], LIVE) == entry["url"]


def test_manifest_has_one_slashless_redirect_and_one_shortlink_per_article() -> None:
    assert len(SLASHLESS) == len(SHORTLINKS) == len(entries("article")) == 33
    assert len(OLD_SITE) == 1


@pytest.mark.parametrize("entry", SLASHLESS, ids=lambda e: e["url"][19:50])
def test_slashless_redirect_canonicalizes_to_its_location(entry: dict[str, str]) -> None:
    assert canonicalize(entry["url"], LIVE) == entry["location"]


@pytest.mark.parametrize("entry", SHORTLINKS, ids=lambda e: e["url"][19:])
def test_shortlink_names_the_post_id_of_its_target(entry: dict[str, str]) -> None:
    assert shortlink_post_id(entry["url"], LIVE) == post_ids_by_url()[entry["location"]]


@pytest.mark.parametrize("entry", SHORTLINKS, ids=lambda e: e["url"][19:])
def test_shortlink_is_not_an_article_until_redirected(entry: dict[str, str]) -> None:
    assert canonicalize(entry["url"], LIVE) is None


def test_old_site_url_is_not_an_article() -> None:
    assert canonicalize(OLD_SITE[0]["url"], LIVE) is None


def test_old_site_url_names_the_post_id_of_its_target() -> None:
    entry = OLD_SITE[0]
    assert old_site_post_id(entry["url"]) == 8392 == post_ids_by_url()[entry["location"]]


@pytest.mark.parametrize(
    "url", ["https://cphpost.dk/news/no-id.html", "https://cphpost.dk/news/x.0.html", ARTICLE]
)
def test_old_site_post_id_is_none_without_a_positive_id(url: str) -> None:
    assert old_site_post_id(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/2016-03-18/news/government-secures-three-party-deal-on-integration/",
        "https://cphpost.dk.evil.example/2016-03-18/news/government-secures-three-party-deal/",
        "https://notcphpost.dk/2016-03-18/news/government-secures-three-party-deal/",
        "https://cphpost.dk:8443/2016-03-18/news/government-secures-three-party-deal/",
        "ftp://cphpost.dk/2016-03-18/news/government-secures-three-party-deal/",
        "//evil.example/2016-03-18/news/government-secures-three-party-deal/",
    ],
)
def test_off_site_url_is_rejected(url: str) -> None:
    assert canonicalize(url, LIVE) is None


@pytest.mark.parametrize(
    "variant",
    [
        "https://www.cphpost.dk/2016-03-18/news/government-secures-three-party-deal-on-integration/",
        "https://test.cphpost.dk/2016-03-18/news/government-secures-three-party-deal-on-integration/",
        "http://cphpost.dk/2016-03-18/news/government-secures-three-party-deal-on-integration/",
        "HTTPS://CPHPOST.DK/2016-03-18/news/government-secures-three-party-deal-on-integration/",
        "https://cphpost.dk:443/2016-03-18/news/government-secures-three-party-deal-on-integration/",
    ],
)
def test_host_and_scheme_variants_map_to_the_site(variant: str) -> None:
    assert canonicalize(variant, LIVE) == ARTICLE


@pytest.mark.parametrize(
    "variant",
    [
        f"{ARTICLE}?utm_source=newsletter",
        f"{ARTICLE}#comments",
        f"{ARTICLE}?replytocom=12#respond",
        ARTICLE.rstrip("/") + "?amp=1",
    ],
)
def test_query_and_fragment_are_dropped(variant: str) -> None:
    assert canonicalize(variant, LIVE) == ARTICLE


def test_relative_url_is_joined_with_the_site() -> None:
    path = "/2016-03-18/news/government-secures-three-party-deal-on-integration"
    assert canonicalize(path, LIVE) == ARTICLE


def test_upper_case_path_is_folded_like_wordpress_slugs() -> None:
    upper = f"{LIVE}/2016-03-18/News/Government-Secures-Three-Party-Deal-On-Integration/"
    assert canonicalize(upper, LIVE) == ARTICLE


def test_sub_section_is_kept_in_the_canonical_url() -> None:
    assert canonicalize(SUB_SECTION.rstrip("/"), LIVE) == SUB_SECTION


@pytest.mark.parametrize("day", ["2099-13-45", "2023-02-30", "2023-00-10", "2023-04-31"])
def test_impossible_date_is_rejected(day: str) -> None:
    assert canonicalize(f"{LIVE}/{day}/news/some-story/", LIVE) is None


@pytest.mark.parametrize(
    "url",
    [
        f"{LIVE}/",
        f"{LIVE}/category/news/",
        f"{LIVE}/category/news/page/2/",
        f"{LIVE}/tag/asylum/",
        f"{LIVE}/tag/asylum/feed/",
        f"{LIVE}/feed/",
        f"{LIVE}/author/ben-hamilton/",
        f"{LIVE}/2016-03-18/news/page/2/",
        f"{LIVE}/2016-03-18/news/government-secures-three-party-deal-on-integration/feed/",
        f"{LIVE}/2016-03-18/news/government-secures-three-party-deal-on-integration/amp/",
        f"{LIVE}/2016-03-18/government-secures-three-party-deal-on-integration/",
        f"{LIVE}/2016-03-18/a/b/c/too-deep/",
        f"{LIVE}/wp-content/uploads/2023/05/photo.jpg",
        f"{LIVE}/sitemap_index.xml",
        f"{LIVE}/?s=asylum",
        "mailto:editor@cphpost.dk",
        "",
    ],
)
def test_non_article_url_is_rejected(url: str) -> None:
    assert canonicalize(url, LIVE) is None


def test_is_article_url_agrees_with_canonicalize() -> None:
    assert is_article_url(ARTICLE.rstrip("/"), LIVE)
    assert not is_article_url(f"{LIVE}/category/news/", LIVE)


def test_local_mirror_origin_is_kept_with_its_port() -> None:
    path = "/2016-03-18/news/government-secures-three-party-deal-on-integration"
    expected = f"{MIRROR}{path}/"
    assert canonicalize(f"{MIRROR}{path}", MIRROR) == expected
    assert canonicalize(path, MIRROR) == expected


def test_local_mirror_rejects_other_ports_and_the_live_host() -> None:
    path = "/2016-03-18/news/government-secures-three-party-deal-on-integration/"
    assert canonicalize(f"http://127.0.0.1:8124{path}", MIRROR) is None
    assert canonicalize(f"{LIVE}{path}", MIRROR) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.cphpost.dk/anything", True),
        ("http://test.cphpost.dk/feed/", True),
        ("/relative/path", True),
        ("https://cphpost.dk.evil.example/", False),
        ("https://evil.example/cphpost.dk/", False),
    ],
)
def test_same_site(url: str, expected: bool) -> None:
    assert same_site(url, LIVE) is expected


@pytest.mark.parametrize(
    ("url", "section"),
    [
        (ARTICLE, "news"),
        (SUB_SECTION, "news/politics"),
        (
            f"{LIVE}/2025-05-07/art-culture/culture/danish-bravery-in-the-nanjing-massacre/",
            "art-culture/culture",
        ),
        (f"{MIRROR}/2016-04-02/general/early-april-events-pillows-at-the-ready/", "general"),
    ],
)
def test_section_is_the_path_between_date_and_slug(url: str, section: str) -> None:
    assert section_of(url) == section


def test_section_of_a_non_article_url_raises() -> None:
    with pytest.raises(ValueError, match="not an article URL"):
        section_of(f"{LIVE}/category/news/")


@pytest.mark.parametrize(
    "url",
    [
        f"{LIVE}/?p=abc",
        f"{LIVE}/?p=0",
        f"{LIVE}/?p=1&p=2",
        f"{LIVE}/?page_id=12",
        f"{LIVE}/news/?p=12",
        "https://evil.example/?p=12",
        ARTICLE,
    ],
)
def test_shortlink_post_id_is_none_for_anything_but_a_site_shortlink(url: str) -> None:
    assert shortlink_post_id(url, LIVE) is None


def test_shortlink_post_id_accepts_host_variants_and_the_mirror() -> None:
    assert shortlink_post_id("http://www.cphpost.dk/?p=17312", LIVE) == 17312
    assert shortlink_post_id(f"{MIRROR}/?p=17312", MIRROR) == 17312


# --- properties ---------------------------------------------------------------------------

SLUG = st.from_regex(r"[a-z0-9]+(-[a-z0-9]+){0,6}", fullmatch=True).filter(
    lambda s: s not in {"page", "feed", "amp", "tag", "category", "author", "embed"}
)
SITES = st.sampled_from([LIVE, MIRROR, "https://staging.example.org"])


@st.composite
def article_url_variants(draw: st.DrawFn) -> tuple[str, str]:
    """(site, some spelling of an article URL on it): host alias, scheme, slash, query, case."""
    site = draw(SITES)
    day = draw(st.dates(min_value=date(2000, 1, 1)))
    sections = draw(st.lists(SLUG, min_size=1, max_size=2))
    path = f"/{day.isoformat()}/{'/'.join(sections)}/{draw(SLUG)}"
    scheme, _, host = site.partition("://")
    if draw(st.booleans()) and not host[0].isdigit():
        host = draw(st.sampled_from(["www.", "test."])) + host
    if draw(st.booleans()):
        scheme = "http" if scheme == "https" else scheme
    tail = draw(st.sampled_from(["", "/", "/?utm=x", "?a=1#b", "/#top"]))
    url = f"{scheme}://{host}{path}{tail}"
    return site, (url.upper() if draw(st.booleans()) else url)


@given(article_url_variants())
def test_every_spelling_of_an_article_canonicalizes(case: tuple[str, str]) -> None:
    site, url = case
    assert canonicalize(url, site) is not None


@given(article_url_variants())
def test_canonical_url_starts_with_site_and_ends_with_slash(case: tuple[str, str]) -> None:
    site, url = case
    canonical = canonicalize(url, site)
    assert canonical is not None
    assert canonical.startswith(site + "/") and canonical.endswith("/")


@given(article_url_variants())
def test_canonicalize_is_idempotent(case: tuple[str, str]) -> None:
    site, url = case
    canonical = canonicalize(url, site)
    assert canonical is not None and canonicalize(canonical, site) == canonical


@given(st.text(max_size=200), SITES)
def test_canonicalize_never_raises_and_is_idempotent_on_any_text(text: str, site: str) -> None:
    canonical = canonicalize(text, site)
    assert canonical is None or canonicalize(canonical, site) == canonical
