"""Kinds of error found on held-out set C (docs/classifier.md, rules v7-v13), each pinned with a
short story written from the topic definitions, never with held-out text (third-party, and it
would turn the held-out set into training data)."""

from __future__ import annotations

import pytest

from monitor.classify import classify


@pytest.mark.parametrize(
    ("title", "standfirst", "body"),
    [
        (
            "Ny klinik for illegale indvandrere i Odense",
            "Frivillige læger hjælper udokumenterede migranter",
            "Omkring 20.000 mennesker opholder sig illegalt i Danmark uden adgang til lægehjælp.",
        ),
        (
            "Thousands living paperless in Denmark",
            "Aid groups count the people who vanish from the asylum system",
            "Paperless migrants avoid hospitals; many have lived underground for years.",
        ),
    ],
    ids=["da", "en"],
)
def test_everyday_words_for_undocumented_people_are_undocumented(
    title: str, standfirst: str, body: str
) -> None:
    result = classify(title, standfirst, body)
    assert result.relevant
    assert next(iter(result.topics)) == "undocumented"


def test_an_authority_named_in_passing_does_not_make_a_residence_permit_story() -> None:
    result = classify(
        "Asylum applications fall again",
        "Fewer asylum seekers reach Denmark",
        "The Danish Immigration Service (Udlændingestyrelsen) registered 2,000 asylum "
        "applications. The Immigration Service expects the asylum centres to stay half empty.",
    )
    assert result.relevant
    assert "residence_permits" not in result.topics


def test_population_nouns_in_the_headline_are_not_immigration_politics() -> None:
    result = classify(
        "Migrant ghettos to be torn down",
        "Immigrants in vulnerable housing areas must move",
        "The ghetto plan will rebuild areas where most residents are non-Western immigrants.",
    )
    assert list(result.topics) == ["integration"]


def test_danish_population_word_counts_but_not_inside_an_agency_name() -> None:
    agency = classify("Udlændingestyrelsen flytter", "Styrelsen får nye lokaler", "")
    people = classify("Færre udlændinge får asyl", "Asylansøgere afvises", "")
    assert not any(e.topic == "immigration_politics" for e in agency.evidence)
    assert any(e.term == "udlændinge" for e in people.evidence)


def test_a_number_of_means_several_not_a_statistic() -> None:
    several = classify("A number of asylum seekers leave Sandholm", "They move to Jutland", "")
    count = classify("The number of asylum seekers falls", "Fewer reach Denmark", "")
    assert "immigration_statistics" not in several.topics
    assert "immigration_statistics" in count.topics


def test_a_number_in_the_headline_alone_does_not_make_a_statistics_story() -> None:
    result = classify(
        "Denmark strips 94 Syrian refugees of residence permits",
        "The 94 refugees must leave",
        "Damascus is safe, the authorities say. The refugees lose their temporary protection.",
    )
    assert result.relevant
    assert "immigration_statistics" not in result.topics


def test_a_recognition_rate_is_a_statistic_of_asylum() -> None:
    result = classify(
        "Denmark's recognition rate among the highest",
        "Asylum seekers from Syria are mostly granted protection",
        "The recognition rate for asylum seekers reached 80 percent last year.",
    )
    assert {"asylum", "immigration_statistics"} <= set(result.topics)


def test_a_policy_named_in_the_politics_definition_counts_for_politics_too() -> None:
    result = classify(
        "Police use the jewellery law for the first time",
        "Valuables seized from asylum seekers",
        "The controversial law lets police take valuables above 10,000 kroner.",
    )
    assert {"asylum", "immigration_politics"} <= set(result.topics)


def test_a_citizenship_ceremony_in_everyday_words_is_citizenship() -> None:
    result = classify(
        "The day they became Danish",
        "New Danish citizens shook the mayor's hand at City Hall",
        "Friends and family watched the ceremony as the integration mayor welcomed them; "
        "afterwards they signed their citizenship papers.",
    )
    assert result.relevant
    assert list(result.topics) == ["citizenship"]


def test_civic_words_and_municipal_titles_are_not_migration() -> None:
    result = classify(
        "Volunteers honoured for active citizenship",
        "The mayor for employment and integration handed out prizes",
        "The integration mayor praised the volunteers' active citizenship at the town hall.",
    )
    assert not result.relevant
    assert result.score == 0.0
