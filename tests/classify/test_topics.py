"""Each topic, written from its definition: short realistic English and Danish stories are
relevant with that topic first; look-alike wording from other walks of life is not relevant."""

from __future__ import annotations

import pytest

from monitor.classify import TOPICS, classify

# topic, title, standfirst, body (one English and one Danish story per topic)
POSITIVES: list[tuple[str, str, str, str]] = [
    (
        "asylum",
        "Asylum applications fall to lowest level in a decade",
        "Fewer people reach the reception centres",
        "Fewer people sought asylum in Denmark last year. Most asylum seekers came from Syria.",
    ),
    (
        "asylum",
        "Færre asylansøgere kom til Danmark i år",
        "To asylcentre lukker",
        "Antallet af asylansøgere er faldet, og der lukkes asylcentre i Jylland.",
    ),
    (
        "deportation",
        "Rejected asylum seekers moved to Kærshovedgård departure centre",
        "The Return Agency says 40 men refuse to leave Denmark",
        "The men will be deported once their home countries accept them.",
    ),
    (
        "deportation",
        "Flere udvisninger af kriminelle udlændinge",
        "Hjemrejsestyrelsen melder om rekord",
        "Flere afviste asylansøgere sendes til udrejsecenter Kærshovedgård.",
    ),
    (
        "refugees",
        "Denmark to take in 500 quota refugees",
        "The UN refugee agency UNHCR selects them in camps in Uganda",
        "The quota refugees will be resettled through the UN resettlement programme.",
    ),
    (
        "refugees",
        "Danmark modtager 200 kvoteflygtninge",
        "FN's flygtningeorganisation UNHCR udvælger dem",
        "Kvoteflygtningene får flygtningestatus, før de rejser til Danmark.",
    ),
    (
        "residence_permits",
        "Hundreds lose their residence permits under new rules",
        "The Danish Immigration Service reviews temporary permits",
        "Permanent residence will require eight years of legal stay.",
    ),
    (
        "residence_permits",
        "Udlændingestyrelsen inddrager 300 opholdstilladelser",
        "Nye regler for permanent ophold",
        "Flere udlændinge mister deres opholdstilladelse, og kravene til permanent ophold skærpes.",
    ),
    (
        "work_permits",
        "Pay limit scheme lowered to attract foreign labour",
        "More professions added to the positive list",
        "Companies can hire staff from abroad on a work permit under the pay limit scheme.",
    ),
    (
        "work_permits",
        "Beløbsordningen sænkes",
        "Flere stillinger kommer på positivlisten",
        "Virksomheder kan ansætte udenlandsk arbejdskraft med arbejdstilladelse.",
    ),
    (
        "citizenship",
        "Tougher citizenship test approved",
        "Applicants for Danish citizenship must answer more questions",
        "The naturalisation bill passed with a large majority.",
    ),
    (
        "citizenship",
        "Ny indfødsretsprøve bliver sværere",
        "Dansk statsborgerskab kræver bestået prøve",
        "Ansøgere om indfødsret skal bestå prøven og deltage i en grundlovsceremoni.",
    ),
    (
        "family_reunification",
        "24-year rule to be eased for spouses",
        "Family reunification rules change next year",
        "Couples must still meet the attachment requirement before spousal reunification.",
    ),
    (
        "family_reunification",
        "Familiesammenføring bliver lettere",
        "24-års-reglen lempes",
        "Ægtefællesammenføring kræver fortsat, at tilknytningskravet er opfyldt.",
    ),
    (
        "integration",
        "Start allowance cut for newly arrived families",
        "The integration programme will focus on jobs",
        "Non-Western immigrants and descendants must attend language school.",
    ),
    (
        "integration",
        "Integrationsydelsen sænkes",
        "Flere ikke-vestlige indvandrere i job",
        "Indvandrere og efterkommere skal på sprogskole, og ghettolisten skrumper.",
    ),
    (
        "undocumented",
        "Clinic for undocumented migrants opens in Aarhus",
        "Illegal immigrants can get treatment without fear of the police",
        "People without legal residence often avoid hospitals.",
    ),
    (
        "undocumented",
        "Papirløse migranter får ny klinik",
        "Lægerne behandler papirløse gratis",
        "Mennesker uden lovligt ophold tør ikke gå til lægen.",
    ),
    (
        "border_control",
        "Border controls at the German border extended again",
        "Police will continue ID checks at Padborg",
        "Schengen rules allow temporary border controls; two people smugglers were arrested.",
    ),
    (
        "border_control",
        "Grænsekontrollen forlænges igen",
        "Politiet fortsætter grænsekontrol ved Padborg",
        "Schengen-reglerne tillader midlertidig grænsekontrol, og to menneskesmuglere er anholdt.",
    ),
    (
        "immigration_statistics",
        "Net immigration to Denmark hits a record",
        "Immigration statistics show 50,000 more arrivals",
        "Immigration figures published today show the number of immigrants rose 8 percent.",
    ),
    (
        "immigration_statistics",
        "Nettoindvandringen stiger igen",
        "Danmarks Statistik offentliggør udlændingestatistik",
        "Nye tal viser, at antallet af indvandrere steg med 8 procent.",
    ),
    (
        "immigration_politics",
        "Immigration minister presents stricter immigration policy",
        "The government and the Danish People's Party agree on a paradigm shift",
        "The Aliens Act will be amended before the election.",
    ),
    (
        "immigration_politics",
        "Udlændingeministeren præsenterer stramninger",
        "Regeringen og Dansk Folkeparti aftaler paradigmeskifte",
        "Udlændingeloven ændres, og udlændingepolitikken fylder i valgkampen.",
    ),
]

# What each topic's words look like outside migration: none of these is relevant.
LOOKALIKES: list[tuple[str, str, str, str]] = [
    (
        "asylum",
        "Old lunatic asylum becomes a boutique hotel",
        "The Victorian building reopens in May",
        "The former insane asylum has 40 rooms and a spa.",
    ),
    (
        "deportation",
        "Striker expelled from the club after training-ground fight",
        "Brøndby confirms the decision",
        "The player was expelled from the club on Monday and may sue.",
    ),
    (
        "refugees",
        "Danish engineer sheltered thousands of refugees in Nanjing in 1937",
        "A new book tells his story",
        "He opened the factory gates and refugees fled inside as the city fell.",
    ),
    (
        "residence_permits",
        "Royal residence opens its doors to visitors",
        "Building permit granted for new visitor centre",
        "The official residence will be open every weekend in July.",
    ),
    (
        "work_permits",
        "Expats and internationals meet employers at job fair",
        "Over 60 companies took part",
        "Internationals and expats queued for pancakes and career advice.",
    ),
    (
        "citizenship",
        "Novo Nordisk wins corporate citizenship award",
        "The prize honours community work",
        "The jury praised the company's corporate citizenship programme.",
    ),
    (
        "family_reunification",
        "Family reunion at Tivoli for 90-year-old grandmother",
        "Five generations met on Saturday",
        "The family reunion ended with fireworks.",
    ),
    (
        "integration",
        "European integration debated in Brussels",
        "Vertical integration helps Danish farms",
        "Economic integration and systems integration were on the agenda.",
    ),
    (
        "undocumented",
        "Hackers exploited an undocumented feature of the router",
        "The bug is fixed",
        "Illegal downloads fell after the undocumented API was closed.",
    ),
    (
        "border_control",
        "Cross-border shopping in Germany booms",
        "Border shops report record sales",
        "Danes crossed the border to buy beer and sweets.",
    ),
    (
        "immigration_statistics",
        "Record number of foreign tourists in Copenhagen",
        "Statistics Denmark reports 10 percent more overnight stays",
        "The figures show 27 million stays by foreigners, the highest number ever.",
    ),
    (
        "immigration_politics",
        "Minister presents the new budget",
        "The government and parliament agree on tax cuts",
        "The bill will be debated before the summer; cloud migration of state IT continues.",
    ),
]


@pytest.mark.parametrize(
    ("topic", "title", "standfirst", "body"),
    POSITIVES,
    ids=[f"{p[0]}-{'da' if i % 2 else 'en'}" for i, p in enumerate(POSITIVES)],
)
def test_story_about_a_topic_is_relevant_with_that_topic_first(
    topic: str, title: str, standfirst: str, body: str
) -> None:
    result = classify(title, standfirst, body)
    assert result.relevant
    assert next(iter(result.topics)) == topic


def test_every_topic_has_an_english_and_a_danish_example() -> None:
    assert sorted(p[0] for p in POSITIVES) == sorted(TOPICS * 2)


@pytest.mark.parametrize(
    ("topic", "title", "standfirst", "body"), LOOKALIKES, ids=[p[0] for p in LOOKALIKES]
)
def test_lookalike_wording_is_not_relevant(
    topic: str, title: str, standfirst: str, body: str
) -> None:
    result = classify(title, standfirst, body)
    assert not result.relevant
    assert result.topics == {}


def test_crime_by_foreigners_is_not_migration() -> None:
    result = classify(
        "Foreign gang arrested for 40 burglaries",
        "Police seized cash and jewellery from the foreign nationals",
        "The foreigners, Romanian citizens, were remanded in custody. Police say foreign "
        "criminals account for a growing share of burglaries in Copenhagen.",
    )
    assert not result.relevant


def test_internationals_alone_are_not_migration_policy() -> None:
    result = classify(
        "Internationals rarely join a trade union",
        "Internationals and expats work in low-paid sectors",
        "A new analysis finds that internationals are overrepresented in cleaning, hotels and "
        "construction, and that few newcomers join a union.",
    )
    assert not result.relevant
    assert result.score == 0.0


def test_weak_words_count_once_core_policy_evidence_is_present() -> None:
    bare = classify("Foreigners in Denmark", "", "Many foreigners live in Copenhagen.")
    with_policy = classify(
        "Foreigners in Denmark",
        "",
        "Many foreigners live in Copenhagen. The Danish Immigration Service issued their "
        "residence permits.",
    )
    assert bare.score == 0.0
    assert with_policy.relevant
    assert any(e.term == "foreigners" for e in with_policy.evidence)


@pytest.mark.parametrize(
    ("title", "standfirst", "body"),
    [
        (
            "Danish language classes will cost 2,000 kroner per module",
            "Language tuition for foreigners is no longer free",
            "Newcomers must pay a deposit before they start the Danish language programme.",
        ),
        (
            "Sprogskoler får færre kursister",
            "Danskuddannelse for udlændinge koster nu penge",
            "Kommunerne henviser nye borgere til danskundervisning.",
        ),
    ],
    ids=["en", "da"],
)
def test_danish_language_education_for_newcomers_is_integration(
    title: str, standfirst: str, body: str
) -> None:
    result = classify(title, standfirst, body)
    assert result.relevant
    assert next(iter(result.topics)) == "integration"


def test_recruiting_foreign_labour_is_labour_migration() -> None:
    result = classify(
        "Companies call for easier access to foreign labour",
        "The labour shortage is costing orders, employers say",
        "Business organisations want the government to make international recruitment easier.",
    )
    assert result.relevant
    assert list(result.topics) == ["work_permits"]
