"""The significance rules, one helper and one behaviour at a time."""

from __future__ import annotations

import pytest

from monitor.diff import (
    Significance,
    cosmetic_reason,
    fold,
    name_change,
    number_change,
    quote_change,
    rate_text,
    sentence_change,
    split_sentences,
    word_change,
)

LONG = (
    "The low number of rejected asylum-seekers for deportation is connected to the lower influx"
    " of asylum-seekers to Denmark in recent years. According to the minister, it shows that"
    " great efforts to expel rejected asylum-seekers has paid off."
)
QUOTE = (
    "“It is good news that there are far fewer rejected asylum-seekers in ‘deportation"
    " positions’ than in the past. It shows we are on the right track with the repatriation"
    " work,” said the immigration and integration minister, Kaare Dybvad Bek."
)
BEK = (
    "“Fortunately, the figures show that things have gone in the right direction in recent"
    " years. It is extremely important,” added Bek."
)


def test_fold_strips_punctuation_and_quote_style() -> None:
    assert fold("“It’s – really – 2.5%,” she said.") == "It s really 2 5% she said"


def test_identical_text_is_none() -> None:
    assert rate_text(LONG, LONG) == (Significance.NONE, "")


def test_whitespace_only_is_none() -> None:
    assert rate_text(LONG, LONG.replace(" ", "\u00a0 ")) == (Significance.NONE, "")


def test_quote_style_is_cosmetic() -> None:
    straight = QUOTE.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    assert rate_text(QUOTE, straight) == (Significance.COSMETIC, "quote style only")


def test_dash_and_comma_are_cosmetic() -> None:
    new = LONG.replace("According to the minister,", "According to the minister -")
    assert rate_text(LONG, new) == (Significance.COSMETIC, "punctuation only")


def test_capitalisation_is_cosmetic() -> None:
    new = LONG.replace("the minister", "the Minister")
    assert rate_text(LONG, new) == (Significance.COSMETIC, "capitalisation only")


def test_cosmetic_reason_none_for_word_change() -> None:
    assert cosmetic_reason("great efforts", "big efforts") is None


def test_one_word_in_long_paragraph_is_minor() -> None:
    new = LONG.replace("great efforts", "considerable efforts")
    assert rate_text(LONG, new) == (
        Significance.MINOR,
        "1 word changed: 'great' → 'considerable'",
    )


def test_three_words_in_long_paragraph_is_minor() -> None:
    new = LONG.replace("in recent years", "over the past years")
    assert rate_text(LONG, new)[0] is Significance.MINOR


def test_one_word_in_short_sentence_is_substantive() -> None:
    # 1 of 4 words is 25%: over the 20% line.
    assert rate_text("Police arrest two men.", "Police release two men.") == (
        Significance.SUBSTANTIVE,
        "1 of 4 words changed: 'arrest' → 'release'",
    )


def test_many_words_are_substantive() -> None:
    new = LONG.replace("great efforts to expel", "a big push to deport all the")
    assert rate_text(LONG, new)[0] is Significance.SUBSTANTIVE


def test_number_change_is_substantive() -> None:
    assert rate_text("There are 550 people.", "There are 548 people.") == (
        Significance.SUBSTANTIVE,
        "number changed: 550 → 548",
    )


def test_number_helper_reads_thousand_separators_as_same_number() -> None:
    assert number_change("from 1,155 at the end", "from 1.155 at the end") is None
    assert number_change("from 1,155 at the end", "from 1155 at the end") is None


def test_number_helper_keeps_decimals_apart() -> None:
    assert number_change("2.5 million", "25 million") == "number changed: 2.5 → 25"


def test_number_helper_reads_decimal_comma() -> None:
    assert number_change("2,5 mio.", "2.5 mio.") is None


def test_number_words_count_as_numbers() -> None:
    assert number_change("halved in two years", "halved in three years") == (
        "number changed: two → three"
    )


def test_number_added() -> None:
    assert number_change("many people", "many people, 12 of them") == "number added: 12"


def test_separator_only_number_edit_is_minor() -> None:
    old = LONG + " The number has fallen drastically from 1,155 at the end of 2020."
    assert rate_text(old, old.replace("1,155", "1155"))[0] is Significance.MINOR


def test_name_change_is_substantive() -> None:
    assert rate_text(BEK, BEK.replace("added Bek", "added Tesfaye")) == (
        Significance.SUBSTANTIVE,
        "name changed: Bek → Tesfaye",
    )


def test_full_name_change() -> None:
    new = QUOTE.replace("Kaare Dybvad Bek", "Mattias Tesfaye")
    assert name_change(QUOTE, new) == "name changed: Kaare Dybvad Bek → Mattias Tesfaye"


def test_sentence_initial_word_is_not_a_name() -> None:
    assert name_change("Number of asylum-seekers halved", "Asylum-seekers halved") is None


def test_sentence_initial_known_name_is_a_name() -> None:
    assert name_change("Bek said so.", "Tesfaye said so.", names={"Bek", "Tesfaye"}) == (
        "name changed: Bek → Tesfaye"
    )


def test_recapitalised_word_is_not_a_name() -> None:
    assert name_change("the minister said", "the Minister said") is None


def test_quote_change_is_substantive() -> None:
    assert rate_text(QUOTE, QUOTE.replace("good news", "great news")) == (
        Significance.SUBSTANTIVE,
        "quote changed",
    )


def test_quote_helper_ignores_words_outside_quotes() -> None:
    assert quote_change(QUOTE, QUOTE.replace("said the", "stated the")) is None


def test_quote_helper_apostrophes_are_not_quotes() -> None:
    assert quote_change("Denmark’s centres", "Denmark’s camps") is None


def test_quote_removed() -> None:
    assert quote_change('He said "no" today.', "He said no today.") == "quote removed"


def test_sentence_added_is_substantive() -> None:
    new = LONG + " The ministry declined to comment."
    assert rate_text(LONG, new) == (Significance.SUBSTANTIVE, "sentence added")


def test_sentence_removed_is_substantive() -> None:
    first = LONG.split(" According")[0]
    assert rate_text(LONG, first) == (Significance.SUBSTANTIVE, "sentence removed")


def test_sentence_split_is_not_a_sentence_added() -> None:
    old = "The minister spoke, and the figures fell."
    assert sentence_change(old, "The minister spoke. And the figures fell.") is None


def test_split_sentences_keeps_abbreviations_and_closing_quotes() -> None:
    text = "“It works,” said Mr. Bek. The figure fell to 2.5 per cent. Then it rose!"
    assert split_sentences(text) == (
        "“It works,” said Mr. Bek.",
        "The figure fell to 2.5 per cent.",
        "Then it rose!",
    )


def test_word_change_counts_and_quotes_the_words() -> None:
    assert word_change("a b c d e", "a x c d y") == (2, 5, "'b … e' → 'x … y'")


@pytest.mark.parametrize(
    ("old", "new"),
    [("", ""), ("", "New text."), ("Old text.", ""), ("…", "—"), ("x" * 10_000, "y")],
)
def test_rate_text_never_raises(old: str, new: str) -> None:
    assert isinstance(rate_text(old, new)[0], Significance)
