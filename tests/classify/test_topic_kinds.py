"""Kinds of topic error of issue 22 (third pass), each pinned with a short story written from the
topic definitions in the rules file (never with labelled text)."""

from __future__ import annotations

from monitor.classify import Classification, classify


def terms(result: Classification, topic: str) -> set[str]:
    return {e.term for e in result.evidence if e.topic == topic}


def test_particularly_and_participate_are_not_a_danish_party() -> None:
    result = classify(
        "Asylum seekers wait longer for a decision",
        "Processing times have grown since the spring",
        [
            "Asylum seekers now wait eight months for a decision, particularly those from Eritrea.",
            "Many asylum seekers participate in language classes at the asylum centre.",
            "The asylum system has more cases than staff, the agency says.",
        ],
    )
    assert result.relevant
    assert terms(result, "immigration_politics") == set()
    assert list(result.topics) == ["asylum"]


def test_a_danish_party_noun_still_counts_for_politics() -> None:
    result = classify(
        "Partiet vil stramme asylpolitikken",
        "",
        ["Partiet kræver færre asylansøgere og en strammere asylpolitik."],
    )
    assert "partiet" in terms(result, "immigration_politics")


def test_an_entry_ban_is_part_of_an_expulsion_not_border_control() -> None:
    result = classify(
        "Convicted foreigners expelled with an entry ban",
        "The court ordered six expulsions this week",
        [
            "Six foreign nationals convicted of burglary were expelled and given an entry ban "
            "of six years.",
            "An entry ban means they may not return to Denmark or the Schengen area.",
            "Two of them had broken an earlier entry ban, the prosecutor said.",
        ],
    )
    assert result.relevant
    assert {e.topic for e in result.evidence if e.term == "entry ban"} == {"deportation"}
    assert "border_control" not in result.topics
    assert "deportation" in result.topics


def test_temporary_protection_status_counts_for_refugees_as_well_as_asylum() -> None:
    result = classify(
        "Syrians with temporary protection status must wait",
        "",
        ["Syrians with temporary protection status must now wait longer to bring family."],
    )
    topics = {e.topic for e in result.evidence if e.term == "temporary protection status"}
    assert topics == {"asylum", "refugees"}


def test_floods_waves_and_streams_of_refugees_are_refugee_vocabulary() -> None:
    for phrase in ("refugee flood", "flood of refugees", "wave of refugees", "stream of refugees"):
        result = classify("", "", [f"Europe braces for a new {phrase} this winter."])
        assert phrase in terms(result, "refugees"), phrase


def test_an_influx_of_refugees_stays_the_statistics_topics_word() -> None:
    result = classify(
        "", "", ["Officials report an influx of refugees and asylum seekers at the border."]
    )
    assert "influx" in terms(result, "immigration_statistics")


def test_resettlement_is_refugee_policy() -> None:
    result = classify(
        "Denmark pauses resettlement of refugees",
        "",
        ["The government has paused resettlement for this year, the UNHCR said."],
    )
    assert "resettlement" in terms(result, "refugees")
    assert next(iter(result.topics)) == "refugees"


def test_the_right_of_foreign_students_to_work_is_labour_migration() -> None:
    result = classify(
        "Foreign students to lose work rights",
        "The government wants to limit work permits for students at private colleges",
        [
            "Students from outside the EU would lose the right to work alongside their studies.",
            "Their work rights are tied to the residence permit they hold as students.",
        ],
    )
    assert result.relevant
    assert {"work rights", "right to work"} <= terms(result, "work_permits")
    assert next(iter(result.topics)) == "work_permits"


def test_a_housing_minister_is_not_immigration_politics() -> None:
    result = classify(
        "Refugees in Jutland need homes",
        "The housing minister promises money for councils",
        ["Councils must house 400 refugees this year, and the housing minister will help pay."],
    )
    assert not any("housing" in t for t in terms(result, "immigration_politics"))


def test_the_housing_and_integration_minister_still_is() -> None:
    result = classify(
        "",
        "",
        ["The housing and integration minister presented a new asylum package on Monday."],
    )
    assert any("integration minister" in t for t in terms(result, "immigration_politics"))


def test_numbers_of_people_in_a_migration_story_are_statistics() -> None:
    result = classify(
        "Thousands expelled last year",
        "New figures: 4,100 people were sent home",
        [
            "The authorities expelled 4,100 people last year, most of them rejected asylum "
            "seekers.",
            "Of those, 2,600 people were deported after a prison sentence.",
            "Another 1,500 people left on their own, the agency said.",
        ],
    )
    assert result.relevant
    numbers = [
        e for e in result.evidence if e.topic == "immigration_statistics" and e.term[0].isdigit()
    ]
    assert sum(e.count for e in numbers) == 4  # the standfirst's and the body's three
    assert "immigration_statistics" in result.topics
