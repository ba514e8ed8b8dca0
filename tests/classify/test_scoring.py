"""How evidence becomes a score: field weights, saturation, length damping, furniture and masks,
the evidence itself, and the result's serialisation and one-line summary."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.classify import Classification, Evidence, classify, load_rules

FILLER = "The weather in Copenhagen was mild and the harbour was busy. " * 3


def test_a_term_counts_three_times_in_the_headline_twice_in_the_standfirst() -> None:
    in_title = classify("Deportation", "", FILLER)
    in_standfirst = classify("", "Deportation", FILLER)
    in_body = classify("", "", "Deportation. " + FILLER)
    assert (in_title.score, in_standfirst.score, in_body.score) == (9.0, 6.0, 3.0)


def test_one_core_term_in_the_headline_makes_a_story_relevant() -> None:
    assert classify("Deportation flight leaves Copenhagen", "", FILLER).relevant


def test_one_passing_mention_in_the_body_does_not() -> None:
    result = classify("Harbour bath reopens", "Swimmers return", "Deportation. " + FILLER)
    assert not result.relevant
    assert result.score == 3.0


def test_repeats_saturate_logarithmically() -> None:
    body = "Asylum seekers wait. " * 4
    (evidence,) = classify("", "", body).evidence
    assert evidence.count == 4
    assert evidence.weight == round(3.0 * (1 + math.log(4)), 3)


def test_long_bodies_damp_body_evidence_by_the_square_root_of_length() -> None:
    words = "word " * 1996  # 2,000 words with the 4 below: four times body_norm_words
    result = classify("", "", "Asylum seekers wait. " + words)
    assert result.score == 1.5  # 3.0 x sqrt(500 / 2000)


def test_read_more_lines_and_photo_captions_do_not_count() -> None:
    body = [
        "READ MORE: Asylum seekers disappear from deportation centre",
        "Photo: asylum seekers at Sandholm",
        "Asylum seekers queue at the centre (photo: Scanpix)",
        "The harbour bath opened on Monday.",
    ]
    result = classify("Harbour bath reopens", "", body)
    assert result.score == 0.0
    assert result.evidence == ()


def test_related_article_teasers_laid_out_by_the_site_do_not_count() -> None:
    body = (
        "The harbour bath opened on Monday.\n\n"
        "  • Rejected asylum-seekers earmarked for deportation\n\n"
        "    Rejected asylum-seekers earmarked for deportation\n\n"
        "    The number of rejected asylum-seekers at departure centres has halved.\n\n"
        "Connect Club is your gateway to a vibrant programme of events."
    )
    assert classify("Harbour bath reopens", "", body).evidence == ()


def test_negative_phrases_are_blanked_before_matching() -> None:
    result = classify("European integration and vertical integration", "", "")
    assert result.score == 0.0


def test_a_longer_match_hides_the_shorter_terms_inside_it() -> None:
    result = classify("", "Immigration minister speaks", "")
    terms = {(e.topic, e.term) for e in result.evidence}
    assert ("immigration_politics", "immigration minister") in terms
    assert not any(term in ("immigration", "minister") for _, term in terms)


def test_a_term_listed_under_two_topics_counts_for_both() -> None:
    result = classify("Rejected asylum seekers", "", "")
    assert {e.topic for e in result.evidence} == {"asylum", "deportation"}


def test_evidence_names_topic_term_as_written_field_count_and_contribution() -> None:
    result = classify(
        "Asylum-seekers wait longer",
        "",
        "Asylum-seekers wait months. Asylum-seekers wait in centres.",
    )
    assert result.evidence == (
        Evidence("asylum", "asylum-seekers", "title", 1, 9.0, "title", 0),
        Evidence(
            "asylum", "asylum-seekers", "body", 2, round(3.0 * (1 + math.log(2)), 3), "lead", 1
        ),
    )
    assert result.score == round(sum(e.weight for e in result.evidence), 2)


def test_topics_are_sorted_by_score_and_only_those_past_the_threshold() -> None:
    result = classify(
        "Deportation of rejected asylum seekers",
        "The Return Agency reports",
        "The deportation centre at Kærshovedgård is full. Asylum is rarely granted. "
        "One case concerned family reunification.",
    )
    scores = list(result.topics.values())
    assert next(iter(result.topics)) == "deportation"
    assert scores == sorted(scores, reverse=True)
    assert min(scores) >= load_rules().scoring.topic_threshold
    assert "family_reunification" not in result.topics


def test_a_body_given_as_paragraphs_scores_like_the_same_body_as_text() -> None:
    paragraphs = ["Asylum seekers wait.", "READ MORE: Deportation", "The centre is full."]
    assert classify("T", "S", paragraphs) == classify("T", "S", "\n\n".join(paragraphs))


def test_summary_shows_the_strongest_term_per_topic_with_count_and_fields() -> None:
    result = classify(
        "Asylum-seekers face deportation",
        "",
        "Asylum-seekers wait. Asylum-seekers protest. Asylum-seekers leave.",
    )
    measures = "focus headline, headline 18, lead 6.3, rest 0, 1/1 paragraphs, 3/3 sentences"
    assert result.summary() == (
        'asylum: "asylum-seekers" ×4 (title, body); deportation: "deportation" ×1 (title)'
        f" [{measures}]"
    )
    assert result.summary(limit=1) == f'asylum: "asylum-seekers" ×4 (title, body) [{measures}]'


def test_summary_of_no_evidence_says_so() -> None:
    assert classify("Harbour bath reopens", "", FILLER).summary() == "no migration evidence"


def test_to_dict_is_json_ready_and_from_dict_restores_it() -> None:
    result = classify("Rejected asylum seekers wait", "", "Asylum is rare.")
    data = result.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert set(data) == {"relevant", "score", "topics", "evidence", "measures"}
    assert data["evidence"][0] == {
        "topic": "deportation",
        "term": "rejected asylum seekers",
        "field": "title",
        "count": 1,
        "weight": 9.0,
        "segment": "title",
        "paragraphs": 0,
    }
    assert data["measures"]["focus"] == "headline"
    assert Classification.from_dict(data) == result


def test_a_verdict_stored_by_the_previous_version_is_still_read() -> None:
    """Rows written before segments and measures existed have neither: both are optional."""
    old = {
        "relevant": True,
        "score": 12.0,
        "topics": {"deportation": 12.0},
        "evidence": [
            {"topic": "deportation", "term": "deportation", "field": "title", "count": 1,
             "weight": 9.0},
            {"topic": "asylum", "term": "asylum", "field": "body", "count": 1, "weight": 3.0},
        ],
    }  # fmt: skip
    verdict = Classification.from_dict(old)
    assert verdict.measures is None
    assert verdict.evidence[0] == Evidence("deportation", "deportation", "title", 1, 9.0)
    assert verdict.evidence[1].where == "body"
    assert verdict.evidence_for("deportation") == (verdict.evidence[0],)
    assert verdict.summary() == 'deportation: "deportation" ×1 (title); asylum: "asylum" ×1 (body)'


def test_evidence_for_a_topic_is_its_evidence_strongest_first() -> None:
    result = classify(
        "Deportation flight leaves",
        "",
        "Deportation centres are full. A second deportation. Rejected asylum seekers wait.",
    )
    evidence = result.evidence_for("deportation")
    assert {e.topic for e in evidence} == {"deportation"}
    assert [e.weight for e in evidence] == sorted((e.weight for e in evidence), reverse=True)
    assert evidence[0].segment == "title"
    assert len(evidence) == sum(e.topic == "deportation" for e in result.evidence)


def test_not_relevant_results_carry_no_topics_but_keep_their_evidence() -> None:
    result = classify("Harbour bath reopens", "", "Deportation. " + FILLER)
    assert result.topics == {}
    assert [e.term for e in result.evidence] == ["deportation"]


def test_packaged_rules_are_loaded_once_and_shared() -> None:
    assert load_rules() is load_rules()


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.text(max_size=200), st.lists(st.text(max_size=300), max_size=5))
def test_any_text_yields_a_consistent_verdict(title: str, standfirst: str, body: list[str]) -> None:
    result = classify(title, standfirst, body)
    assert result.score >= 0
    assert abs(result.score - sum(e.weight for e in result.evidence)) < 0.05
    assert bool(result.topics) == result.relevant
    assert Classification.from_dict(result.to_dict()) == result


_WORDS = st.sampled_from(
    ["asylum", "deportation", "refugees", "the", "minister", "integration", "foreigners", "."]
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_WORDS, max_size=40), st.lists(_WORDS, max_size=8))
def test_adding_migration_words_to_the_headline_never_lowers_the_score(
    body: list[str], extra: list[str]
) -> None:
    text = " ".join(body)
    before = classify("News", "", text)
    after = classify("News " + " ".join(extra), "", text)
    assert after.score >= before.score - 0.01


def test_read_also_teasers_do_not_count() -> None:
    body = ["READ ALSO: Government wants citizenship applicants to stay", "The harbour opened."]
    assert classify("Harbour bath reopens", "", body).evidence == ()
