"""Properties over generated articles: sameness, cosmetic noise, inserted sentences, odd input."""

from __future__ import annotations

import dataclasses
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.diff import (
    ChangeKind,
    Significance,
    changed_sentences,
    diff_articles,
    rate_text,
    render_html,
    render_unified,
)
from scrapers.article import Article, fingerprint
from tests.diff.helpers import make
from tests.support.properties import examples

SETTINGS = settings(
    max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

VOCABULARY = (
    "the a of to in and for on that with by at from as is was are were has have said would could "
    "government minister ministry asylum seekers refugees number rules country people report "
    "figures year years police council centres agency work permits citizenship integration "
    "deportation families children new lower higher record fell rose show shows agreed "
    "proposal parliament party majority opposition week month cost kroner million"
)
WORDS = VOCABULARY.split()
NAMES = ["Bek", "Tesfaye", "Frederiksen", "Copenhagen", "Aarhus", "Denmark", "Hjemrejsestyrelsen"]
NUMBERS = ["550", "548", "1,155", "2020", "350,000", "15", "2.5"]
POSSESSIVES = ["country's", "Denmark's", "agency's"]

token = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS),
    st.sampled_from(NAMES),
    st.sampled_from(NUMBERS),
    st.sampled_from(POSSESSIVES),
)


@st.composite
def sentences(draw: st.DrawFn) -> str:
    words = draw(st.lists(token, min_size=3, max_size=16))
    if draw(st.booleans()):  # a quotation, straight or curly, double or single
        i = draw(st.integers(0, len(words) - 1))
        j = draw(st.integers(i + 1, len(words)))
        opening, closing = draw(st.sampled_from([('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’")]))
        words[i] = opening + words[i]
        words[j - 1] = words[j - 1] + closing
    first = words[0]
    lead = len(first) - len(first.lstrip("\"“'‘"))
    words[0] = first[:lead] + first[lead:][:1].upper() + first[lead:][1:]
    mark = draw(st.sampled_from([".", ".", ".", "?", "!"]))
    text = " ".join(words)
    return text[:-1] + mark + text[-1] if text[-1] in "\"”'’" else text + mark


paragraphs = st.lists(sentences(), min_size=1, max_size=4).map(" ".join)


@st.composite
def articles(draw: st.DrawFn) -> Article:
    return make(
        title=draw(sentences()).rstrip(".?!"),
        standfirst=draw(st.one_of(st.just(""), sentences())),
        paragraphs=tuple(draw(st.lists(paragraphs, min_size=1, max_size=6))),
        related_links=tuple(draw(st.lists(sentences(), max_size=2))),
    )


_CURLY = str.maketrans({'"': "“", "'": "’", "“": '"', "”": '"', "‘": "'", "’": "'"})


@st.composite
def noise(draw: st.DrawFn, text: str) -> str:
    """Extra spaces, NBSP, straight <-> curly quotes: invisible or typographic only."""
    if draw(st.booleans()):
        text = text.translate(_CURLY)
    spaces = draw(st.lists(st.sampled_from([" ", "  ", "\u00a0", " \u00a0", "\n"]), min_size=1))
    parts = text.split(" ")
    text = "".join(p + spaces[i % len(spaces)] for i, p in enumerate(parts[:-1])) + parts[-1]
    return draw(st.sampled_from(["", " ", "\u00a0"])) + text + draw(st.sampled_from(["", "  "]))


@SETTINGS
@given(articles())
def test_same_article_is_empty(article: Article) -> None:
    assert diff_articles(article, article).is_empty


@SETTINGS
@given(articles(), st.data())
def test_noise_in_one_paragraph_is_at_most_cosmetic(article: Article, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(article.paragraphs) - 1))
    paragraphs = list(article.paragraphs)
    paragraphs[i] = data.draw(noise(paragraphs[i]))
    diff = diff_articles(article, dataclasses.replace(article, paragraphs=tuple(paragraphs)))
    assert diff.significance <= Significance.COSMETIC
    assert all(c.significance is Significance.COSMETIC for c in diff.changes)


@SETTINGS
@given(articles(), st.data())
def test_noise_everywhere_is_at_most_cosmetic(article: Article, data: st.DataObject) -> None:
    noisy = dataclasses.replace(
        article,
        title=data.draw(noise(article.title)),
        standfirst=data.draw(noise(article.standfirst)) if article.standfirst else "",
        paragraphs=tuple(data.draw(noise(p)) for p in article.paragraphs),
        related_links=tuple(data.draw(noise(r)) for r in article.related_links),
    )
    diff = diff_articles(article, noisy)
    assert diff.significance <= Significance.COSMETIC
    assert not diff.alertable
    assert changed_sentences(article, noisy) == []


@SETTINGS
@given(paragraphs)
def test_whitespace_only_is_no_change_and_same_fingerprint(paragraph: str) -> None:
    old = make(paragraphs=(paragraph,))
    new = make(paragraphs=("\u00a0" + paragraph.replace(" ", "  \n") + " ",))
    assert diff_articles(old, new).is_empty
    assert fingerprint(old) == fingerprint(new)


@SETTINGS
@given(articles(), sentences(), st.data())
def test_inserted_sentence_is_substantive(
    article: Article, sentence: str, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(article.paragraphs) - 1))
    parts = re.split(r"(?<=[.?!])\s+|(?<=[.?!][\"”'’])\s+", article.paragraphs[i])
    at = data.draw(st.integers(0, len(parts)))
    paragraphs = list(article.paragraphs)
    paragraphs[i] = " ".join([*parts[:at], sentence, *parts[at:]])
    diff = diff_articles(article, dataclasses.replace(article, paragraphs=tuple(paragraphs)))
    assert diff.significance is Significance.SUBSTANTIVE
    assert ChangeKind.BODY in diff.kinds


@SETTINGS
@given(paragraphs, sentences(), st.booleans())
def test_sentence_added_to_text_is_substantive(text: str, sentence: str, front: bool) -> None:
    new = f"{sentence} {text}" if front else f"{text} {sentence}"
    assert rate_text(text, new)[0] is Significance.SUBSTANTIVE


@SETTINGS
@given(articles(), paragraphs, st.data())
def test_inserted_paragraph_is_substantive(
    article: Article, paragraph: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(0, len(article.paragraphs)))
    paragraphs = [*article.paragraphs[:at], paragraph, *article.paragraphs[at:]]
    diff = diff_articles(article, dataclasses.replace(article, paragraphs=tuple(paragraphs)))
    assert diff.significance is Significance.SUBSTANTIVE


_ALLOWED_TAG = re.compile(r'</?(?:div|h2|p|ins|del)(?: class="[a-z-]+")?>')

odd_text = st.text(max_size=300)


@st.composite
def odd_articles(draw: st.DrawFn) -> Article:
    return make(
        title=draw(odd_text),
        standfirst=draw(odd_text),
        author=draw(odd_text),
        paragraphs=tuple(draw(st.lists(odd_text, max_size=6))),
        related_links=tuple(draw(st.lists(odd_text, max_size=2))),
        tags=tuple(draw(st.lists(odd_text, max_size=2))),
        paywalled=draw(st.booleans()),
    )


@settings(max_examples=examples(200), deadline=None)
@given(odd_articles(), odd_articles())
def test_odd_input_never_raises_and_html_stays_inert(old: Article, new: Article) -> None:
    diff = diff_articles(old, new)
    assert isinstance(diff.significance, Significance)
    render_unified(old, new)
    changed_sentences(old, new)
    html = render_html(old, new)
    assert "<" not in _ALLOWED_TAG.sub("", html)
