"""Generated articles for scale tests and the backfill benchmark: plausible, distinct, seeded.

Some are about migration (asylum, refugees, residence permits, deportation, citizenship), the
rest are not and avoid those words, so a test knows exactly which ones the monitor should flag:
``ArticleSpec.migration`` carries the ground truth.
"""

from __future__ import annotations

import random
import string
from datetime import datetime, timedelta
from functools import cache

from tests.support.pages import CET, ArticleSpec, slugify

_SLOTS: dict[str, tuple[str, ...]] = {
    "trend": ("rises", "falls", "drops sharply", "climbs again", "levels off"),
    "party": ("Danish People’s Party", "Venstre", "Social Democrats", "Liberal Alliance"),
    "city": ("Aarhus", "Odense", "Aalborg", "Esbjerg", "Vejle", "Randers", "Kolding", "Horsens"),
    "city2": ("Copenhagen", "Roskilde", "Næstved", "Herning", "Silkeborg", "Svendborg"),
    "country": ("Syria", "Afghanistan", "Eritrea", "Ukraine", "Somalia", "Iraq"),
    "partner": ("Rwanda", "Kosovo", "Tunisia", "Morocco"),
    "centre": ("Kærshovedgård", "Sjælsmark", "Avnstrup"),
    "region": ("Jutland", "Zealand", "Funen", "Bornholm", "North Zealand"),
    "company": ("Novo Nordisk", "Maersk", "Carlsberg", "Vestas", "Ørsted", "Lego", "Pandora"),
    "team": ("FC Copenhagen", "Brøndby", "FC Midtjylland", "AGF", "Silkeborg IF", "Randers FC"),
    "place": ("Nordhavn", "Refshaleøen", "Amager Strand", "Valby", "Ørestad", "Islands Brygge"),
    "festival": ("Roskilde Festival", "Distortion", "Copenhagen Jazz Festival", "Smukfest"),
    "venue": ("harbour bath", "concert hall", "library", "cycle bridge", "food market", "park"),
    "month": ("January", "March", "May", "June", "September", "October", "November"),
    "finding": (
        "new clues to Viking trade routes",
        "a cheaper way to store wind power",
        "record numbers of porpoises in the Sound",
        "why Danes sleep better in winter",
    ),
}

# (title, section, tags); slots in braces, {n}/{k}/{pct}/{year}/{a}/{b} are numbers.
_MIGRATION_TITLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Number of asylum-seekers arriving in Denmark {trend} in {year}", "news", ("asylum",)),
    (
        "{party} calls for tougher citizenship test after {n} applicants fail",
        "news",
        ("citizenship",),
    ),
    ("{city} to house {n} more refugees from {country}", "news", ("refugees",)),
    ("Minister defends plan for asylum processing in {partner}", "news", ("asylum",)),
    ("{n} rejected asylum-seekers still at {centre} departure centre", "news", ("deportation",)),
    ("Work permits for non-EU citizens up {pct} percent in {year}", "news", ("immigration",)),
    (
        "Denmark signs deportation deal with {partner} worth {n} million kroner",
        "news",
        ("deportation",),
    ),
    ("Refugees from {country} wait {k} months for residence permits", "news", ("refugees",)),
    ("Number of family reunification cases {trend} in {city}", "news", ("immigration",)),
    ("Integration programme in {city} gets {n} million kroner extra", "news", ("integration",)),
)
_OTHER_TITLES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("{city2} opens new {venue} after {k} years of planning", "life-in-denmark", ("city",)),
    ("{company} posts record profit of {k} billion kroner", "business", ("business",)),
    ("Heatwave to bring {a} degrees to {region} this weekend", "news", ("weather",)),
    ("{team} beat rivals {a}-{b} to go top of the Superliga", "news", ("sport",)),
    ("Metro extension to {place} delayed until {year2}", "news", ("transport",)),
    ("{festival} returns with {n} concerts in {month}", "art-culture", ("culture",)),
    ("Danish researchers find {finding}", "news", ("science",)),
    ("Storm closes Great Belt Bridge for {k} hours", "news", ("weather",)),
    ("{company} to hire {n} engineers in {city}", "business", ("business",)),
)
_MIGRATION_SENTENCES = (
    "According to new figures from the Immigration Service, {n} people applied for asylum in "
    "the first {months} months of the year.",
    "The immigration and integration minister said the government would put the proposal "
    "before the Folketing before the summer.",
    "Critics warn that the rules could leave refugees from {country} without a clear path to a "
    "permanent residence permit.",
    "Municipalities such as {city} have been asked to find housing for {n} refugees by the end "
    "of the year.",
    "The Danish Refugee Council called the decision ‘deeply worrying’ and urged MPs to think "
    "again.",
    "{party} said the figures showed that a strict immigration policy was working.",
    "Rejected asylum-seekers at the {centre} departure centre have complained about the "
    "conditions for years.",
    "A permanent residence permit now requires applicants to have worked full-time for at "
    "least {k} years.",
    "Family reunification cases fell by {pct} percent compared with the same period last year.",
    "Legal experts said the deportation agreement with {partner} raises questions under "
    "international conventions.",
    "Applicants for citizenship must also pass a test on Danish history and values.",
)
_OTHER_SENTENCES = (
    "The project has cost {n} million kroner and is expected to draw {k},000 visitors a year.",
    "Local residents have welcomed the plan, although some have complained about the noise.",
    "{company} said demand had been particularly strong in the United States and Asia.",
    "The Danish Meteorological Institute expects temperatures to fall again early next week.",
    "The coach praised the players for their patience in the second half.",
    "Tickets go on sale on Friday and are expected to sell out within hours.",
    "The city council will vote on the final budget in {month}.",
    "Analysts said the results were better than the market had expected.",
    "Cyclists have been asked to use the route via {place} while work is under way.",
    "The researchers published their findings in a peer-reviewed journal on Tuesday.",
    "Shares rose by {pct} percent in early trading on the Copenhagen stock exchange.",
)
_MIGRATION_STANDFIRSTS = (
    "New figures reopen the debate about how many refugees Denmark should receive",
    "The government says the change will make the asylum system fairer and faster",
    "Opposition parties want the immigration rules tightened further",
)
_OTHER_STANDFIRSTS = (
    "The news was welcomed across the region",
    "A busy season lies ahead, say organisers",
    "Experts expect the trend to continue into next year",
)
_SUBHEADS = ("Reactions from Christiansborg", "A long way to go", "What happens next")
_AUTHORS = ("Ben Hamilton", "Hugh Hopkinson", "Elias Thorsson", "The Copenhagen Post")

NEWEST = datetime(2025, 6, 2, 9, 0, tzinfo=CET)


_NUMBERS: dict[str, tuple[int, int]] = {
    "n": (12, 4800),
    "k": (2, 18),
    "pct": (3, 64),
    "months": (2, 11),
    "year": (2015, 2025),
    "year2": (2026, 2031),
    "b": (0, 4),
}


@cache
def _fields(template: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


def _fill(template: str, rng: random.Random) -> str:
    """The template with its slots drawn at random (only the slots it uses: 5,000 is fast)."""
    values: dict[str, str] = {}
    for name in _fields(template):
        if name in _SLOTS:
            values[name] = rng.choice(_SLOTS[name])
        elif name == "a":  # a score when there is a {b}, else degrees
            values[name] = str(rng.randint(0, 5) if "{b}" in template else rng.randint(27, 34))
        else:
            values[name] = str(rng.randint(*_NUMBERS[name]))
    return template.format(**values)


def generate(
    n: int,
    *,
    seed: int = 1,
    migration_share: float = 0.3,
    newest: datetime = NEWEST,
    spacing: timedelta = timedelta(hours=7),
    first_post_id: int = 200_000,
) -> list[ArticleSpec]:
    """``n`` articles, oldest first, post ids rising with the date, ``newest`` last.

    Paths and post ids are always distinct; titles too, but for a handful in 5,000 when the
    pool runs dry (their slugs then get WordPress's ``-2`` suffix).
    """
    rng = random.Random(seed)
    specs: list[ArticleSpec] = []
    titles: set[str] = set()
    slugs: set[str] = set()
    post_id = first_post_id
    for i in range(n):
        migration = rng.random() < migration_share
        titles_pool = _MIGRATION_TITLES if migration else _OTHER_TITLES
        for _attempt in range(20):
            template, section, tags = rng.choice(titles_pool)
            title = _fill(template, rng)
            if title not in titles:
                break
        titles.add(title)
        published = newest - spacing * (n - 1 - i)
        if i < n - 1:
            published -= timedelta(minutes=rng.randint(0, 59))
        slug = base = slugify(title)
        counter = 2
        while slug in slugs:
            slug, counter = f"{base}-{counter}", counter + 1
        slugs.add(slug)
        sentences = _MIGRATION_SENTENCES if migration else _OTHER_SENTENCES
        picked = [_fill(t, rng) for t in rng.sample(sentences, rng.randint(4, 8))]
        paragraphs: list[str] = []
        while picked:  # one or two sentences a paragraph, no sentence twice
            take = 2 if len(picked) > 1 and rng.random() < 0.4 else 1
            paragraphs.append(" ".join(picked[:take]))
            del picked[:take]
        if migration and not any("asylum" in p or "refugee" in p for p in paragraphs):
            paragraphs[0] = _fill(_MIGRATION_SENTENCES[0], rng) + " " + paragraphs[0]
        if len(paragraphs) >= 5 and rng.random() < 0.4:
            paragraphs.insert(3, "## " + rng.choice(_SUBHEADS))
        related: tuple[tuple[str, str], ...] = ()
        if specs and rng.random() < 0.3:
            earlier = specs[rng.randrange(len(specs))]
            related = ((earlier.path, earlier.title),)
        post_id += rng.randint(1, 4)
        specs.append(
            ArticleSpec(
                path=f"/{published:%Y-%m-%d}/{section}/{slug}/",
                title=title,
                paragraphs=tuple(paragraphs),
                published=published,
                post_id=post_id,
                section=section,
                author=rng.choice(_AUTHORS),
                standfirst=rng.choice(_MIGRATION_STANDFIRSTS if migration else _OTHER_STANDFIRSTS),
                tags=tags,
                related=related,
                migration=migration,
            )
        )
    return specs
