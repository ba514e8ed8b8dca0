"""Kinds of error of issue 22 seen on dev + extra, each pinned with a short story written from the
topic definitions and the issue's list of kinds (never with labelled text)."""

from __future__ import annotations

from monitor.classify import Focus, classify

OTHER = [
    "The college has 1,200 students and offers courses in business and marketing.",
    "Its new campus opens in the autumn with a library and a canteen.",
    "Teachers say the classes are full and the waiting list is growing.",
    "The board will meet in March to discuss the budget for next year.",
    "Local shops hope the students will bring more customers to the area.",
]


def test_a_headline_taken_up_by_one_lead_paragraph_is_a_migration_story() -> None:
    result = classify(
        "Student visa rules tightened for non-EU students",
        "Colleges fear fewer applicants",
        [OTHER[0], "From July a student visa no longer gives the right to work full time.", *OTHER],
    )
    assert result.measures is not None
    assert result.measures.focus == Focus.HEADLINE
    assert result.measures.evidence_paragraphs == 1
    assert result.relevant
    assert list(result.topics) == ["residence_permits"]


def test_a_headline_the_body_takes_up_only_late_is_still_headline_only() -> None:
    result = classify(
        "Asylum seekers charged with assault at a train station",
        "Two men were arrested on Saturday night",
        [
            "Police arrested two men after a fight at the station on Saturday night.",
            "A guard was taken to hospital with minor injuries.",
            "Witnesses say the fight started over a lost phone.",
            *OTHER[:3],
            "The two men live at an asylum centre in Jutland.",
        ],
    )
    assert result.measures is not None
    assert result.measures.focus == Focus.HEADLINE_ONLY
    assert not result.relevant


def test_trafficking_in_a_prostitution_raid_is_not_a_migration_story() -> None:
    result = classify(
        "Eleven arrested in raid on brothels",
        "",
        [
            "Police raided three brothels on Friday as part of an operation against human "
            "trafficking.",
            "The women will be offered help by the centre against human trafficking.",
            "Police say human trafficking networks often use flats in the city centre.",
            "Four of the eleven were released on Saturday.",
        ],
    )
    assert result.measures is not None
    assert result.measures.evidence_paragraphs == 0
    assert not result.relevant
    assert result.topics == {}


def test_the_attachment_rule_is_family_reunification() -> None:
    result = classify(
        "Court scraps exception to the attachment rule",
        "Danes abroad worry about coming home with their families",
        [
            "Danes who want to bring a foreign spouse to Denmark must meet the attachment rule.",
            "The rule asks whether the couple's ties to Denmark are stronger than to any other "
            "country.",
        ],
    )
    assert result.relevant
    assert next(iter(result.topics)) == "family_reunification"
    assert any(e.term == "attachment rule" and e.field == "title" for e in result.evidence)


def test_people_smuggling_is_undocumented_as_well_as_border_control() -> None:
    result = classify(
        "Three charged with people smuggling at the German border",
        "Migrants were hidden in a lorry",
        [
            "Police charged three men with people smuggling after finding eight migrants in a "
            "lorry at Padborg.",
            "The migrants had no papers and had paid to be driven to Sweden.",
        ],
    )
    assert result.relevant
    assert {"border_control", "undocumented"} <= set(result.topics)
    smuggling = {e.topic for e in result.evidence if e.term == "people smuggling"}
    assert smuggling == {"border_control", "undocumented"}
