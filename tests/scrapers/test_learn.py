"""Template learning: a redesign is learned from stored articles and extracts them exactly."""

from __future__ import annotations

import itertools
import json
from functools import cache

import pytest

from scrapers import learn as learning
from scrapers.article import Article, ExtractionFailure, fingerprint
from scrapers.cphpost import SITE, extract
from scrapers.cphpost.extract import NO_BODY
from scrapers.cphpost.urls import DEFAULT_SITE
from scrapers.learn import CONFIRMATIONS, Evidence
from scrapers.template import Stored, Template
from tests.scrapers.recorded import (
    FREE_STEM,
    PREMIUM_STEM,
    expected,
    expected_stems,
    read_bytes,
)
from tests.support.redesign import redesigned, variant_names, variants

RULES = SITE.redesign
assert RULES is not None


def learn(ev: Evidence) -> learning.Fit | None:
    return learning.learn(SITE, ev)


def confirm(evidence: list[Evidence]) -> learning.Confirmed | None:
    return learning.confirm(SITE, evidence)


def refine(ev: Evidence, template: Template) -> Template | None:
    return learning.refine(SITE, ev, template)


def reproduces(ev: Evidence, template: Template) -> bool:
    return learning.reproduces(SITE, ev, template)


def stored_from_json_ld(page: bytes) -> Stored | None:
    return RULES.declared_text(page)


VARIANTS = ("renamed", "nested", "split", "moved")
PREMIUM_STEMS = (
    "2024-06-11-internationals-in-denmark-rarely-members-of-a-trade-union",
    PREMIUM_STEM,
)
FREE_STEMS = [s for s in expected_stems() if s not in PREMIUM_STEMS]


def original(stem: str) -> Article:
    article = extract(read_bytes(f"articles/{stem}.html"), expected(stem)["url"])
    assert isinstance(article, Article), article
    return article


def evidence(variant: str, stem: str, stored_stem: str | None = None) -> Evidence:
    known = expected(stored_stem or stem)
    stored = Stored(tuple(known["paragraphs"]), tuple(known["related_links"]))
    return Evidence(expected(stem)["url"], redesigned(variant, stem), stored, DEFAULT_SITE)


@cache
def learned_from_all(variant: str) -> Template:
    confirmed = confirm([evidence(variant, stem) for stem in expected_stems()])
    assert confirmed is not None
    return confirmed.template


def test_every_variant_is_made_of_every_recorded_page_the_same_way_each_time() -> None:
    assert variant_names() == VARIANTS
    assert variants().stems() == expected_stems()
    for variant in VARIANTS:
        page = redesigned(variant, FREE_STEM)
        fresh = variants().VARIANTS[variant](read_bytes(f"articles/{FREE_STEM}.html").decode())
        assert page == fresh.encode("utf-8")  # deterministic: nothing generated is committed
        assert b'class="entry-content"' not in page


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_redesigned_page_without_a_template_fails_for_want_of_a_body(variant: str) -> None:
    result = extract(redesigned(variant, FREE_STEM), expected(FREE_STEM)["url"])
    assert isinstance(result, ExtractionFailure)
    assert result.reason.startswith(NO_BODY)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("stem", expected_stems())
def test_the_learned_template_extracts_exactly_the_expected_article(
    variant: str, stem: str
) -> None:
    page = extract(
        redesigned(variant, stem), expected(stem)["url"], template=learned_from_all(variant)
    )
    assert isinstance(page, Article), page
    assert page == original(stem)
    assert fingerprint(page) == fingerprint(original(stem))
    data = page.to_dict()
    assert {key: data[key] for key in expected(stem) if key in data} == expected(stem)


@pytest.mark.parametrize(
    ("variant", "body", "exclude"),
    [
        ("renamed", ("div.story-body",), ("div.story-paywall",)),
        ("nested", ("div.article-text",), ("div.ad-wrap", "div.story-paywall")),
        ("split", ("div.story-text",), ("div.story-paywall",)),
        (
            "moved",
            ("div.story-content",),
            (
                "div.story-inline-related",
                "div.story-paywall",
                "p.story-age",
                "p.story-credit",
                "p.story-lede",
            ),
        ),
    ],
)
def test_the_template_is_the_smallest_stable_selector_and_the_furniture_it_holds(
    variant: str, body: tuple[str, ...], exclude: tuple[str, ...]
) -> None:
    assert learned_from_all(variant) == Template(body, exclude)


@pytest.mark.parametrize("variant", VARIANTS)
def test_three_articles_confirm_and_later_ones_refine_the_exclusions(variant: str) -> None:
    confirmed = confirm([evidence(variant, stem) for stem in FREE_STEMS[:CONFIRMATIONS]])
    assert confirmed is not None
    assert len(confirmed.urls) == CONFIRMATIONS
    template = confirmed.template
    for stem in expected_stems():
        ev = evidence(variant, stem)
        if not reproduces(ev, template):
            refined = refine(ev, template)
            assert refined is not None, stem
            template = refined
    for stem in expected_stems():
        page = extract(redesigned(variant, stem), expected(stem)["url"], template=template)
        assert page == original(stem), stem


def test_two_articles_are_not_enough_to_accept_a_template() -> None:
    assert confirm([evidence("renamed", stem) for stem in FREE_STEMS[:2]]) is None


def test_one_page_proposes_the_container_holding_its_stored_text() -> None:
    learned = learn(evidence("moved", FREE_STEM))
    assert learned is not None
    assert learned.found == 1.0 and learned.share == 1.0 and learned.exact
    assert learned.template == Template(
        ("div.story-content",),
        ("div.story-inline-related", "p.story-age", "p.story-credit", "p.story-lede"),
    )


def test_a_page_of_an_unrelated_layout_gives_no_template() -> None:
    listing = read_bytes("listings/category-news-page-2.html")
    stored = Stored(tuple(expected(FREE_STEM)["paragraphs"]))
    assert learn(Evidence(expected(FREE_STEM)["url"], listing, stored, DEFAULT_SITE)) is None
    mismatched = [
        evidence("renamed", stem, stored_stem=other)
        for stem, other in itertools.pairwise(FREE_STEMS[:5])
    ]
    assert all(learn(ev) is None for ev in mismatched)
    assert confirm(mismatched) is None


def test_a_page_whose_text_was_mostly_rewritten_gives_no_template() -> None:
    known = expected(FREE_STEM)["paragraphs"]
    rewritten = tuple(p if i % 2 else f"{p} (updated)" for i, p in enumerate(known))
    ev = Evidence(
        expected(FREE_STEM)["url"],
        redesigned("renamed", FREE_STEM),
        Stored(rewritten),
        DEFAULT_SITE,
    )
    assert learn(ev) is None


def test_body_text_outside_any_stable_selector_is_not_excluded() -> None:
    """An unclassed paragraph in the container is text the stored version lacks: an edit."""
    stem = FREE_STEM
    page = redesigned("renamed", stem).replace(
        b'<div class="story-body">\n', b'<div class="story-body">\n<p>A new first paragraph.</p>\n'
    )
    result = extract(page, expected(stem)["url"], template=learned_from_all("renamed"))
    assert isinstance(result, Article)
    assert result.paragraphs == ("A new first paragraph.", *original(stem).paragraphs)
    ev = Evidence(expected(stem)["url"], page, Stored.of(original(stem)), DEFAULT_SITE)
    assert refine(ev, learned_from_all("renamed")) is None


def test_a_second_redesign_is_learned_like_the_first() -> None:
    first = learned_from_all("renamed")
    url = expected(FREE_STEM)["url"]
    failed = extract(redesigned("nested", FREE_STEM), url, template=first)
    assert isinstance(failed, ExtractionFailure) and failed.reason.startswith(NO_BODY)
    assert "div.story-body" in failed.reason
    second = learned_from_all("nested")
    assert extract(redesigned("nested", FREE_STEM), url, template=second) == original(FREE_STEM)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_original_theme_wins_over_a_learned_template(variant: str) -> None:
    for stem in (FREE_STEM, PREMIUM_STEM):
        page = read_bytes(f"articles/{stem}.html")
        with_template = extract(page, expected(stem)["url"], template=learned_from_all(variant))
        assert with_template == original(stem)


def test_the_original_theme_gives_no_template() -> None:
    page = read_bytes(f"articles/{FREE_STEM}.html")
    stored = Stored(tuple(expected(FREE_STEM)["paragraphs"]))
    assert learn(Evidence(expected(FREE_STEM)["url"], page, stored, DEFAULT_SITE)) is None


def test_json_ld_article_body_is_evidence_for_an_article_never_stored() -> None:
    known = expected(FREE_STEM)
    lines = [*known["paragraphs"][:4], f"READ MORE: {known['related_links'][0]}"]
    body = json.dumps("\n".join([*lines, *known["paragraphs"][4:]]))
    page = redesigned("renamed", FREE_STEM).decode()
    page = page.replace(
        '"isAccessibleForFree": true', f'"articleBody": {body}, "isAccessibleForFree": true', 1
    )
    stored = stored_from_json_ld(page)
    assert stored == Stored(tuple(known["paragraphs"]), tuple(known["related_links"]))
    learned = learn(Evidence(known["url"], page, stored, DEFAULT_SITE))
    assert learned is not None and learned.exact
    assert learned.template == Template(("div.story-body",))
    assert stored_from_json_ld(redesigned("renamed", FREE_STEM)) is None


def test_a_template_selector_lexbor_cannot_parse_matches_nothing() -> None:
    result = extract(
        redesigned("renamed", FREE_STEM), expected(FREE_STEM)["url"], template=Template(("div[",))
    )
    assert isinstance(result, ExtractionFailure) and result.reason.startswith(NO_BODY)


def test_a_template_round_trips_through_a_dict_and_reads_as_a_sentence() -> None:
    template = Template(("div.story-text",), ("p.story-age", "div.story-paywall"))
    assert Template.from_dict(json.loads(json.dumps(template.to_dict()))) == template
    assert template.describe() == (
        "body in `div.story-text` without `p.story-age`, `div.story-paywall`"
    )
