"""Extraction: every recorded page gives its expected article; broken pages give a reason."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapers.article import Article, ExtractionFailure, fingerprint
from scrapers.cphpost import extract
from tests.scrapers.recorded import (
    CORRECTED,
    CORRECTED_EXPECTED,
    FREE_STEM,
    FURNITURE_ONLY,
    FURNITURE_ONLY_ORIGINAL,
    LIVE,
    MIRROR,
    PREMIUM_STEM,
    expected,
    expected_stems,
    hostile,
    read_bytes,
)
from tests.support.properties import examples

CET = timezone(timedelta(hours=1))
FIELDS = (
    "url",
    "title",
    "standfirst",
    "author",
    "published",
    "section",
    "paywalled",
    "tags",
    "post_id",
    "paragraphs",
    "related_links",
)
FREE = expected(FREE_STEM)
PREMIUM = expected(PREMIUM_STEM)


def page(stem: str) -> bytes:
    return read_bytes(f"articles/{stem}.html")


def article_of(data: bytes | str, url: str, **kwargs: Any) -> Article:
    result = extract(data, url, **kwargs)
    assert isinstance(result, Article), result
    return result


def failure_of(data: bytes | str, url: str = FREE["url"], **kwargs: Any) -> ExtractionFailure:
    result = extract(data, url, **kwargs)
    assert isinstance(result, ExtractionFailure), result
    return result


def fields(article: Article) -> dict[str, Any]:
    data = article.to_dict()
    return {name: data[name] for name in FIELDS}


def expected_fields(stem: str) -> dict[str, Any]:
    data = expected(stem)
    return {name: data[name] for name in FIELDS}


# --- recorded pages -----------------------------------------------------------------------


def test_every_article_page_has_an_expected_extraction() -> None:
    assert len(expected_stems()) == 33


@pytest.mark.parametrize("stem", expected_stems())
def test_extraction_equals_expected(stem: str) -> None:
    assert fields(article_of(page(stem), expected(stem)["url"])) == expected_fields(stem)


@pytest.mark.parametrize("stem", expected_stems())
def test_dates_are_timezone_aware(stem: str) -> None:
    article = article_of(page(stem), expected(stem)["url"])
    assert article.published is not None and article.published.tzinfo is not None
    assert article.modified is not None and article.modified.tzinfo is not None


@pytest.mark.parametrize("stem", expected_stems())
def test_no_furniture_reaches_the_article(stem: str) -> None:
    article = article_of(page(stem), expected(stem)["url"])
    text = " ".join((article.standfirst, *article.paragraphs, *article.related_links))
    for furniture in (
        "This article is more than",
        "Subscribe to our newsletter",
        "Connect Club",
        "Latest Podcast",
        "READ MORE",
        "DKK/month",
        "All rights reserved",
    ):
        assert furniture not in text


def test_corrected_recording_equals_its_expected() -> None:
    article = article_of(read_bytes(CORRECTED), FREE["url"])
    assert fields(article) == expected_fields(CORRECTED_EXPECTED)


def test_modified_time_is_read_from_the_page() -> None:
    article = article_of(read_bytes(CORRECTED), FREE["url"])
    assert article.modified == datetime(2023, 5, 23, 12, 40, tzinfo=CET)


def test_subhead_is_a_paragraph_in_place() -> None:
    article = article_of(page(FREE_STEM), FREE["url"])
    assert article.paragraphs[4] == "Huge cost to Danish society"


def test_read_more_line_is_kept_apart_from_the_body() -> None:
    article = article_of(page(FREE_STEM), FREE["url"])
    assert article.related_links == ("Record number of internationals streaming to Denmark",)


# --- versions -----------------------------------------------------------------------------


def test_furniture_only_rerecording_keeps_the_fingerprint() -> None:
    url = "https://cphpost.dk/2015-05-21/news/denmark-oversaw-600-forced-repatriations-last-year/"
    before = article_of(read_bytes(FURNITURE_ONLY_ORIGINAL), url)
    after = article_of(read_bytes(FURNITURE_ONLY), url)
    assert fingerprint(after) == fingerprint(before)


def test_corrected_recording_changes_the_fingerprint() -> None:
    before = article_of(page(FREE_STEM), FREE["url"])
    after = article_of(read_bytes(CORRECTED), FREE["url"])
    assert fingerprint(after) != fingerprint(before)


def test_corrected_recording_has_the_reworded_headline() -> None:
    before = article_of(page(FREE_STEM), FREE["url"])
    after = article_of(read_bytes(CORRECTED), FREE["url"])
    assert (before.title, after.title) == (
        "Number of rejected asylum-seekers earmarked for deportation halved in two years",
        "Rejected asylum-seekers earmarked for deportation halved in two years",
    )


def test_corrected_recording_has_the_corrected_figure() -> None:
    before = article_of(page(FREE_STEM), FREE["url"])
    after = article_of(read_bytes(CORRECTED), FREE["url"])
    assert before.paragraphs[0].startswith("There are 550 rejected")
    assert after.paragraphs[0].startswith("There are 548 rejected")


def test_corrected_recording_has_the_correction_line_appended() -> None:
    before = article_of(page(FREE_STEM), FREE["url"])
    after = article_of(read_bytes(CORRECTED), FREE["url"])
    assert after.paragraphs[:-1][1:] == before.paragraphs[1:]
    assert after.paragraphs[-1] == (
        "Correction: an earlier version of this article gave the number of rejected "
        "asylum-seekers as 550. The report's figure is 548."
    )


# --- premium ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stem", [PREMIUM_STEM, "2024-06-11-internationals-in-denmark-rarely-members-of-a-trade-union"]
)
def test_premium_page_is_paywalled_with_only_its_teaser(stem: str) -> None:
    article = article_of(page(stem), expected(stem)["url"])
    assert article.paywalled is True
    assert article.paragraphs == tuple(expected(stem)["paragraphs"])
    assert len(article.paragraphs) == 1


@pytest.mark.parametrize("phrase", ["Gain unlimited access", "subscription", "Signup", "119"])
def test_premium_page_keeps_no_paywall_box_text(phrase: str) -> None:
    article = article_of(page(PREMIUM_STEM), PREMIUM["url"])
    assert not any(phrase in p for p in article.paragraphs)


def test_json_ld_paywall_flag_wins_over_markup() -> None:
    free_flagged = page(FREE_STEM).replace(
        b'"isAccessibleForFree": true', b'"isAccessibleForFree": "False"'
    )
    assert article_of(free_flagged, FREE["url"]).paywalled is True


# --- URL ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fetched",
    [
        FREE["url"].rstrip("/"),
        "https://cphpost.dk/?p=148207",
        "https://www.cphpost.dk/2023-05-22/news/number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/?utm_source=x",
    ],
)
def test_article_url_is_the_canonical_link_whatever_was_fetched(fetched: str) -> None:
    assert article_of(page(FREE_STEM), fetched).url == FREE["url"]


def test_off_site_canonical_link_falls_back_to_the_fetched_url() -> None:
    data = page(FREE_STEM).replace(
        b'<link rel="canonical" href="https://cphpost.dk/',
        b'<link rel="canonical" href="https://evil.example/',
    )
    assert article_of(data, FREE["url"].rstrip("/")).url == FREE["url"]


def test_page_with_no_article_url_at_all_fails() -> None:
    data = re.sub(
        rb'<link rel="canonical"[^>]*>|<meta property="og:url"[^>]*>', b"", page(FREE_STEM)
    )
    assert "not an article URL" in failure_of(data, "file:///tmp/page.html").reason


def test_mirror_page_extracts_the_same_article_on_the_mirror_origin() -> None:
    data = page(FREE_STEM).replace(LIVE.encode(), MIRROR.encode())
    mirrored = article_of(data, FREE["url"].replace(LIVE, MIRROR), site=MIRROR)
    live = article_of(page(FREE_STEM), FREE["url"])
    assert mirrored.url == FREE["url"].replace(LIVE, MIRROR)
    assert fingerprint(mirrored) == fingerprint(live)


def test_text_input_extracts_like_bytes() -> None:
    text = page(FREE_STEM).decode("utf-8")
    assert article_of(text, FREE["url"]) == article_of(page(FREE_STEM), FREE["url"])


# --- encodings ----------------------------------------------------------------------------


def test_wrong_http_charset_on_utf8_bytes_is_overridden() -> None:
    article = article_of(page(FREE_STEM), FREE["url"], encoding="iso-8859-1")
    assert fields(article) == expected_fields(FREE_STEM)


def test_wrong_meta_charset_on_utf8_bytes_is_overridden() -> None:
    article = article_of(hostile("declared-latin1-utf8-bytes.html"), FREE["url"])
    assert fields(article) == expected_fields(FREE_STEM)


def test_windows_1252_page_declared_in_meta_decodes() -> None:
    article = article_of(hostile("windows-1252.html"), FREE["url"])
    assert fields(article) == expected_fields(FREE_STEM)


def test_windows_1252_page_declared_in_http_as_latin1_decodes_like_a_browser() -> None:
    data = hostile("windows-1252.html").replace(b'<meta charset="windows-1252">', b"")
    article = article_of(data, FREE["url"], encoding="ISO-8859-1")
    assert fields(article) == expected_fields(FREE_STEM)


def test_undeclared_legacy_bytes_decode_with_replacement_characters() -> None:
    data = hostile("windows-1252.html").replace(b'<meta charset="windows-1252">', b"")
    article = article_of(data, FREE["url"])
    assert "\ufffd" in article.paragraphs[1]


# --- hostile pages ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["no-json-ld.html", "markup-only.html"])
def test_page_without_structured_data_extracts_from_meta_and_markup(name: str) -> None:
    assert fields(article_of(hostile(name), FREE["url"])) == expected_fields(FREE_STEM)


def test_premium_page_without_json_ld_is_still_paywalled() -> None:
    article = article_of(hostile("no-json-ld-premium.html"), PREMIUM["url"])
    assert fields(article) == expected_fields(PREMIUM_STEM)


def test_truncated_mid_body_fails() -> None:
    failure = failure_of(hostile("truncated-mid-body.html"))
    assert failure.reason.startswith("truncated HTML")


def test_truncated_inside_teasers_fails_safe() -> None:
    failure = failure_of(hostile("truncated-in-teasers.html"))
    assert failure.reason.startswith("truncated HTML")


def test_truncated_after_the_article_closes_still_extracts() -> None:
    article = article_of(hostile("truncated-after-article.html"), FREE["url"])
    assert fields(article) == expected_fields(FREE_STEM)


def test_truncated_at_every_point_of_the_body_fails() -> None:
    data = page(FREE_STEM)
    start, end = data.index(b'<div class="entry-content">'), data.index(b"</article>")
    for cut in range(start, end, 97):
        assert isinstance(extract(data[:cut], FREE["url"]), ExtractionFailure), cut


def with_word_count(count: int) -> bytes:
    return page(FREE_STEM).replace(b'"inLanguage"', f'"wordCount": {count}, "inLanguage"'.encode())


FREE_WORDS = sum(len(p.split()) for p in FREE["paragraphs"])


def test_body_far_shorter_than_json_ld_word_count_fails() -> None:
    declared = FREE_WORDS * 2
    assert failure_of(with_word_count(declared)).reason == (
        f"truncated body: {FREE_WORDS} words, JSON-LD wordCount says {declared}"
    )


def test_body_within_a_fifth_of_json_ld_word_count_extracts() -> None:
    declared = int(FREE_WORDS / 0.8)
    assert fields(article_of(with_word_count(declared), FREE["url"])) == expected_fields(FREE_STEM)


def test_redesign_without_a_known_body_container_fails() -> None:
    failure = failure_of(hostile("redesign-renamed-classes.html"))
    assert failure.reason.startswith("no article body")


def test_redesign_with_schema_org_body_still_extracts() -> None:
    article = article_of(hostile("redesign-with-microdata.html"), FREE["url"])
    assert fields(article) == expected_fields(FREE_STEM)


def test_maintenance_page_served_with_200_fails() -> None:
    assert failure_of(hostile("maintenance-200.html")).reason.startswith("maintenance page")


def test_error_page_served_with_200_fails() -> None:
    assert failure_of(hostile("error-404-200.html")).reason.startswith("error page")


def test_article_with_an_empty_body_fails() -> None:
    assert failure_of(hostile("empty-body.html")).reason.startswith("empty article body")


@pytest.mark.parametrize("data", [b"", b"  \r\n ", ""])
def test_empty_response_fails(data: bytes | str) -> None:
    assert failure_of(data).reason == "empty response body"


def test_page_without_a_title_fails() -> None:
    data = re.sub(
        rb'<script type="application/ld\+json".*?</script>|<meta property="og:title"[^>]*>'
        rb"|<h1 .*?</h1>|<title>.*?</title>",
        b"",
        page(FREE_STEM),
        flags=re.S,
    )
    assert failure_of(data).reason.startswith("no title")


def test_listing_page_is_not_an_article() -> None:
    failure = failure_of(read_bytes("listings/category-news-page-1.html"))
    assert failure.reason.startswith("not an article page")


@pytest.mark.parametrize("name", ["truncated-mid-body.html", "empty-body.html"])
def test_failure_names_the_url_it_was_given(name: str) -> None:
    fetched = "https://cphpost.dk/?p=148207"
    assert failure_of(hostile(name), fetched).url == fetched


def test_article_page_whose_title_mentions_maintenance_is_still_a_redesign() -> None:
    data = hostile("redesign-renamed-classes.html").replace(
        b"<title>Number of", b"<title>Maintenance: number of"
    )
    assert failure_of(data).reason.startswith("no article body")


def test_truncated_page_without_any_article_fails() -> None:
    data = hostile("maintenance-200.html")[:-20]
    assert failure_of(data).reason == "truncated HTML: ends before </html> and holds no <article>"


def test_failure_is_falsy_and_article_truthy() -> None:
    assert not failure_of(b"")
    assert article_of(page(FREE_STEM), FREE["url"])


def test_broken_json_ld_falls_back_to_meta_and_markup() -> None:
    data = page(FREE_STEM).replace(b'{"@context"', b'{"@context" oops', 1)
    assert fields(article_of(data, FREE["url"])) == expected_fields(FREE_STEM)


# --- properties ---------------------------------------------------------------------------

FREE_PAGE = page(FREE_STEM)
PREMIUM_PAGE = page(PREMIUM_STEM)


@settings(max_examples=examples(300), deadline=None)
@given(st.integers(min_value=0, max_value=len(FREE_PAGE)))
def test_a_cut_anywhere_yields_a_failure_or_the_whole_article(cut: int) -> None:
    result = extract(FREE_PAGE[:cut], FREE["url"])
    assert isinstance(result, ExtractionFailure) or fields(result) == expected_fields(FREE_STEM)


@settings(max_examples=examples(100), deadline=None)
@given(st.integers(min_value=0, max_value=len(PREMIUM_PAGE)))
def test_a_cut_anywhere_in_a_premium_page_never_leaks_the_paywall(cut: int) -> None:
    result = extract(PREMIUM_PAGE[:cut], PREMIUM["url"])
    assert isinstance(result, ExtractionFailure) or fields(result) == expected_fields(PREMIUM_STEM)


@settings(max_examples=examples(200), deadline=None)
@given(st.one_of(st.binary(max_size=3000), st.text(max_size=3000)))
def test_extract_never_raises_on_arbitrary_input(data: bytes | str) -> None:
    assert isinstance(extract(data, FREE["url"]), Article | ExtractionFailure)


def test_json_ld_after_the_article_is_still_read() -> None:
    """Only the page through its article is parsed, unless signals sit after it (a footer)."""
    data = page(FREE_STEM).decode()
    ld = re.search(r'<script type="application/ld\+json".*?</script>\n', data, re.S)
    assert ld is not None
    moved = data.replace(ld.group(0), "").replace("</body>", ld.group(0) + "</body>")
    moved = re.sub(r"<meta (?:property|name)=[^>]*>\n", "", moved)
    moved = moved.replace(f'"headline": "{FREE["title"]}"', '"headline": "Only JSON-LD says so"')
    assert article_of(moved, FREE["url"]).title == "Only JSON-LD says so"
