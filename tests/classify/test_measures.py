"""Relevance by what an article is about: where the evidence sits, how much of the text it
covers, and whether it is one item of a roundup. Each kind of error seen on unseen articles
(issue 22) is pinned with a short story written from the topic definitions, never with text
from a labelled article."""

from __future__ import annotations

from monitor.classify import Classification, Focus, classify

FILLER = [
    "The agreement sets aside money for hospitals, roads and schools in the coming years.",
    "Municipalities will get more room to hire nurses and teachers, the minister said.",
    "The opposition called the plan a step in the right direction but too timid.",
    "Economists expect growth to slow next year as exports weaken.",
    "The parties will meet again in the spring to discuss taxes on cars.",
]


def focus(result: Classification) -> Focus:
    assert result.measures is not None
    return result.measures.focus


def test_a_budget_story_mentioning_asylum_in_one_sentence_is_a_passing_mention() -> None:
    body = [*FILLER[:3], "Savings on asylum centres help pay for it.", *FILLER[3:]]
    result = classify("Government and parties agree on next year's budget", "", body)
    assert not result.relevant
    assert focus(result) is Focus.PASSING
    assert result.measures is not None
    assert (result.measures.evidence_paragraphs, result.measures.paragraphs) == (1, 6)
    assert result.measures.headline == 0.0


def test_a_crime_story_naming_asylum_seekers_only_in_the_headline_is_not_migration() -> None:
    body = ["Two men were arrested after a fight at a train station on Friday night.", *FILLER]
    result = classify("Asylum seekers arrested after station brawl", "", body)
    assert not result.relevant
    assert focus(result) is Focus.HEADLINE_ONLY


def test_a_short_item_carried_by_its_headline_and_one_sentence_is_relevant() -> None:
    result = classify(
        "Fewer refugees reach Denmark",
        "",
        ["The Immigration Service registered fewer arrivals in May.", "A report follows."],
    )
    assert result.relevant
    assert focus(result) is Focus.HEADLINE


def test_the_body_can_make_a_story_relevant_when_it_covers_enough_of_it() -> None:
    body = [
        "Asylum seekers must now wait two years for a decision.",
        "The asylum centres are full, the Red Cross says.",
        "The deportation of rejected asylum seekers has slowed.",
        FILLER[0],
    ]
    result = classify("A hard year", "Waiting in the centres", body)
    assert result.relevant
    assert focus(result) is Focus.BODY
    assert result.measures is not None
    assert result.measures.evidence_paragraphs == 3


def test_one_item_of_a_news_roundup_does_not_make_the_roundup_relevant() -> None:
    body = [
        "Harbour bath closes",
        "The harbour bath at Islands Brygge closed for repairs on Monday.",
        "Deportation centre full",
        "The deportation centre at Kærshovedgård has no room left, the Return Agency says.",
        "Metro delays",
        "The metro ran late all morning after a signal fault.",
        "New bakery",
        "A bakery opened in Vesterbro.",
    ]
    result = classify("News in brief: Harbour bath closes", "", body)
    assert not result.relevant
    assert focus(result) is Focus.ROUNDUP_ITEM
    assert result.measures is not None
    assert (result.measures.evidence_items, result.measures.items) == (1, 4)


def test_a_policy_to_expel_criminal_foreigners_is_deportation() -> None:
    result = classify(
        "Government wants criminal foreigners out faster",
        "",
        [
            "Foreigners convicted of violence should lose the right to stay, the justice "
            "minister said.",
            "Criminal foreigners would be expelled after a first sentence under the proposal.",
        ],
    )
    assert result.relevant
    assert next(iter(result.topics)) == "deportation"


def test_a_story_about_recruiting_migrant_workers_is_labour_migration() -> None:
    result = classify(
        "Farms want more migrant workers",
        "",
        ["Farmers say they need migrant workers from outside the EU for the harvest."],
    )
    assert result.relevant
    assert next(iter(result.topics)) == "work_permits"


def test_a_topic_mentioned_once_in_passing_is_not_reported() -> None:
    body = [
        "Asylum seekers must now wait two years for a decision.",
        "The asylum centres are full, the Red Cross says.",
        "Applications from Syria fell, the authorities say.",
        "Many asylum seekers have family in Denmark.",
        "One lawyer also mentioned border controls.",
    ]
    result = classify("Asylum seekers wait longer", "", body)
    assert "asylum" in result.topics
    assert "border_control" not in result.topics
    assert result.measures is not None
    assert result.measures.topics["border_control"] == 0.2


def test_measures_and_evidence_segments_explain_the_verdict() -> None:
    result = classify(
        "Deportation flight leaves",
        "Rejected asylum seekers on board",
        ["Forty people were deported.", *FILLER[:3], "The deportation centre is half empty."],
    )
    measures = result.measures
    assert measures is not None
    assert measures.focus is Focus.HEADLINE
    assert measures.paragraphs == 5
    assert measures.evidence_paragraphs == 2
    assert {e.segment for e in result.evidence} == {"title", "standfirst", "lead", "rest"}
    assert "focus headline" in result.summary()
    assert "2/5 paragraphs" in result.summary()
