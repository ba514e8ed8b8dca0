"""The classifier's prefilter changes its speed, never its verdicts.

``classify`` tries only the terms and masks a one-pass scan of the text says may match (see
``monitor.classify.index.Index``). ``reference_hits`` below is the matching as it was before
that: every mask and every term tried on every field. Both must find exactly the same matches
(term, surface, field, offset, in order), from which the verdict is computed, on the labelled
dev set, the seed stories, the recorded pages, the generated articles of the scale tests and
the backfill bench, and on adversarial texts built from the rules' own terms (overlaps, words
inside words, hyphens, negative phrases, characters that match ASCII letters only when case is
ignored), with the packaged rules and with user rules whose patterns use inline flags,
backreferences and lookarounds.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from monitor.classify import FIELDS, Classification, Rules, classify, load_rules
from monitor.classify.index import FOLDS_TO_ASCII
from monitor.classify.matching import body_paragraphs, match_article
from monitor.classify.terms import Term, normalise
from tests.support.properties import examples
from tests.support.synthetic import generate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
Text = tuple[str, str, str | list[str]]


# The classifier before the prefilter -------------------------------------------------------


def _ref_clean_body(body: str | Sequence[str], rules: Rules) -> str:
    if isinstance(body, str):
        paragraphs = body.splitlines()
    else:
        paragraphs = [line for para in body for line in str(para).splitlines()]
    kept = []
    for para in paragraphs:
        line = normalise(para).rstrip()
        text = line.strip()
        if not text or any(r.search(line) for r in rules.drop):
            continue
        for r in rules.strip:
            text = r.sub(" ", text)
        kept.append(text)
    return "\n".join(kept)


def _ref_finditer(term: Term, text: str) -> Iterator[re.Match[str]]:
    if not all(needle in text for needle in term.needles):
        return
    if not term.bounded:
        yield from term.regex.finditer(text)
        return
    pos = 0
    while (m := term.regex.search(text, pos)) is not None:
        start = m.start()
        if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
            pos = start + 1
            continue
        yield m
        pos = max(m.end(), start + 1)


def _ref_masked(text: str, rules: Rules) -> str:
    for mask in rules.masks:
        for m in list(_ref_finditer(mask, text)):
            text = text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]
    return text


def _ref_matches(text: str, rules: Rules) -> list[tuple[Term, str, int]]:
    found: list[tuple[int, int, Term]] = []
    for term in rules.terms:
        for m in _ref_finditer(term, text):
            if m.end() > m.start():
                found.append((m.start(), m.end(), term))
    found.sort(key=lambda f: (f[0] - f[1], f[0]))
    accepted: list[tuple[int, int, Term]] = []
    for start, end, term in found:
        if any(
            start < a_end
            and a_start < end
            and a_term.key != term.key
            and (a_end - a_start > end - start or a_term.topic == term.topic)
            for a_start, a_end, a_term in accepted
        ):
            continue
        accepted.append((start, end, term))
    return [(term, " ".join(text[s:e].split()), s) for s, e, term in accepted]


def reference_hits(
    title: str, standfirst: str, body: str | Sequence[str], rules: Rules
) -> list[tuple[str, str, str, str, int]]:
    """(topic, term key, surface, field, offset) of every accepted match, every term tried."""
    texts = {
        "title": _ref_masked(normalise(title), rules),
        "standfirst": _ref_masked(normalise(standfirst), rules),
        "body": _ref_masked(_ref_clean_body(body, rules), rules),
    }
    return [
        (term.topic, term.key, surface, fname, start)
        for fname in FIELDS
        for term, surface, start in _ref_matches(texts[fname], rules)
    ]


# Corpora ----------------------------------------------------------------------------------


def dev_texts() -> list[Text]:
    path = FIXTURES / "labels" / "dev.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [(r["title"], r["standfirst"], r["body"]) for r in rows]


def seed_texts() -> list[Text]:
    out: list[Text] = []
    for path in sorted((FIXTURES / "seeds").glob("*.txt")):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        out.append((lines[0], lines[1], lines[2:]))
    return out


def recorded_texts() -> list[Text]:
    out: list[Text] = []
    for path in sorted((FIXTURES / "cphpost" / "expected").glob("*.json")):
        page = json.loads(path.read_text(encoding="utf-8"))
        if "title" in page:
            out.append((page["title"], page["standfirst"], list(page["paragraphs"])))
    return out


def generated_texts(n: int | None = None) -> list[Text]:
    """Generated stories: 600 under the default Hypothesis profile (see examples())."""
    count = examples(600) if n is None else n
    return [(s.title, s.standfirst, list(s.paragraphs)) for s in generate(count, seed=7)]


_FOLDING = ["\u0130", "\u0131", "\u017f", "\u212a", "S", "K", "I", "\u00c5", "\u212b"]
_JOINERS = [" ", "  ", "-", " - ", "\u2013", "\u00ad", "", "\n", ", ", ". ", "'s ", "_"]


def _mutate(word: str, rng: random.Random) -> str:
    """The word, often as written, else spelled with case-folding look-alikes, or inside
    another word, or cut short."""
    roll = rng.random()
    if roll < 0.55 or not word:
        return word
    if roll < 0.7:
        i = rng.randrange(len(word))
        return word[:i] + rng.choice(_FOLDING) + word[i + 1 :]
    if roll < 0.8:
        return rng.choice(["x", "un", "re", "_", "9", "é"]) + word
    if roll < 0.9:
        return word + rng.choice(["s", "es", "ing", "x", "_", "-"])
    if roll < 0.95:
        return word.upper()
    return word[: max(1, len(word) // 2)]


def adversarial_texts(rules: Rules, n: int, seed: int) -> list[Text]:
    """Texts dense in the rules' own vocabulary, glued and bent in the ways matching cares
    about."""
    rng = random.Random(seed)
    vocab = [t.key.replace("*", rng.choice(["", "s", "ers", "ation"])) for t in rules.terms]
    vocab += [m.key.replace("*", "s") for m in rules.masks]
    needles = sorted({n for t in (*rules.terms, *rules.masks) for n in t.needles})
    fillers = [
        "the", "a", "of", "in", "per cent", "37", "1,200", "%", "number of", "minister for",
        "labour market", "municipality", "refugees", "housing", "took in", "lost their",
        "danish language classes for foreigners", "illegal immigrants", "the numbers of",
        "reunited with their family", "stripped of danish citizenship", "jobs", "kommunen",
    ]  # fmt: skip

    def phrase() -> str:
        pool = rng.choice((vocab, vocab, needles, fillers, list(string.ascii_lowercase)))
        words = re.split(r"(\s+)", rng.choice(pool))
        return "".join(_mutate(w, rng) if w.strip() else rng.choice(_JOINERS) for w in words)

    def text(k: int) -> str:
        return "".join(phrase() + rng.choice(_JOINERS) for _ in range(k))

    out: list[Text] = []
    for _ in range(n):
        body = [text(rng.randint(0, 25)) for _ in range(rng.randint(0, 6))]
        if rng.random() < 0.2:
            body.append("READ MORE: " + text(3))
        if rng.random() < 0.2:
            body.append("  • " + text(3))
        out.append((text(rng.randint(0, 6)), text(rng.randint(0, 10)), body))
    return out


USER_RULES = """
[negative]
mask = ["asylum shopping", "refugee* of love", "*grant* fund"]

[topics.asylum.core]
"asylum shopping spree" = 2
"ſpecial asylum" = 3

[[topics.asylum.patterns]]
regex = '(?-i:EU) (asylum|refugee) (pact|deal)'
weight = 2

[[topics.deportation.patterns]]
regex = '(?x) deport \\w+ \\s+ (to|from) \\s+ (syria|iraq)'
weight = 2

[[topics.refugees.patterns]]
regex = '(\\w+) \\1 refugees'
weight = 1

[[topics.integration.patterns]]
regex = '(?<=language )(?:school|centre)s?'
weight = 1
tier = "weak"

[[topics.border_control.patterns]]
regex = '(?:border|grænse)\\w*(?: control| kontrol)+'
weight = 2

[[topics.citizenship.patterns]]
regex = '(?i:CITIZEN)ship (test|ceremony)'
weight = 2

[[topics.undocumented.patterns]]
regex = '(papir|paper)[- ]?less|undocumented'
weight = 2

[[topics.residence_permits.patterns]]
regex = '(humanitarian residence )?permits? (granted|refused)'
weight = 2
"""


@pytest.fixture(scope="module")
def user_rules(tmp_path_factory: pytest.TempPathFactory) -> Rules:
    path = tmp_path_factory.mktemp("rules") / "user.toml"
    path.write_text(USER_RULES, encoding="utf-8")
    return load_rules(path)


def _assert_same(texts: list[Text], rules: Rules) -> list[Classification]:
    """The prefiltered matches are those of trying every term, so the verdicts (a function of
    the matches) are too."""
    verdicts = []
    for title, standfirst, body in texts:
        want = reference_hits(title, standfirst, body, rules)
        hits = match_article(title, standfirst, body, rules).hits
        got = [(h.term.topic, h.term.key, h.surface, h.field, h.start) for h in hits]
        assert got == want, (title, standfirst, body)
        verdicts.append(classify(title, standfirst, body, rules))
    return verdicts


# Identity -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "corpus", [dev_texts, seed_texts, recorded_texts, generated_texts], ids=lambda f: f.__name__
)
def test_same_verdicts_as_trying_every_term(corpus: object) -> None:
    texts = corpus()  # type: ignore[operator]
    assert texts
    _assert_same(texts, load_rules())


def test_same_verdicts_on_adversarial_texts() -> None:
    rules = load_rules()
    folded: list[Text] = [  # the patterns' literals, spelled with case-folding look-alikes
        ("Stripped of Danish citizen\u017fhip", "They lost their re\u017fidence permits", []),
        ("Ta\u212aes in 40 refugees", "", ["Illegal \u0131mmigrants", "the NUMBER of refugees"]),
        ("", "", ["Language classes for foreigners", "REUNITED with their family"]),
    ]
    verdicts = _assert_same(folded + adversarial_texts(rules, examples(600), seed=1), rules)
    assert all(v.evidence for v in verdicts[: len(folded)])
    relevant = sum(v.relevant for v in verdicts)
    assert 0 < relevant < len(verdicts)  # the texts reach both verdicts


def test_same_verdicts_with_user_rules(user_rules: Rules) -> None:
    texts = (
        adversarial_texts(user_rules, examples(300), seed=2)
        + dev_texts()
        + generated_texts(examples(100))
    )
    texts.append(("EU asylum pact", "eu asylum pact; deport them to syria", ["a a refugees"]))
    texts.append(("language schools", "border control kontrol", ["paperless citiZENship test"]))
    texts.append(("Permits granted", "a permit refused", ["humanitarian residence permit"]))
    _assert_same(texts, user_rules)


def test_same_verdicts_with_replacement_rules(tmp_path: Path) -> None:
    path = tmp_path / "replace.toml"
    path.write_text(
        '[topics.asylum.core]\n"a" = 3\n"asylum" = 3\n"asylum seeker*" = 4\n'
        '[[topics.asylum.patterns]]\nregex = "x?"\nweight = 1\n',
        encoding="utf-8",
    )
    rules = load_rules(path, mode="replace")
    _assert_same(adversarial_texts(rules, examples(300), seed=3) + dev_texts(), rules)


# The prefilter's parts ------------------------------------------------------------------------


def test_candidates_include_every_term_whose_needles_are_present() -> None:
    rules = load_rules()
    index = rules.index
    for title, standfirst, body in adversarial_texts(rules, 300, seed=4):
        for text in (
            normalise(title),
            normalise(standfirst),
            "\n".join(body_paragraphs(body, rules)),
        ):
            terms, masks = index.candidates(text)
            for items, got in ((rules.terms, terms), (rules.masks, masks)):
                present = {i for i, t in enumerate(items) if all(n in text for n in t.needles)}
                assert present <= set(got)


def test_the_characters_that_fold_to_ascii_are_all_known() -> None:
    """``_FOLDS_TO_ASCII`` must name every character a case-ignoring regex matches to an ASCII
    character other than itself and its lower case: the pattern prefilter relies on it."""
    everything = "".join(
        chr(c) for c in range(0x110000) if not 0xD800 <= c < 0xE000 and chr(c) not in "\n"
    )
    folding: set[str] = set()
    for ch in string.printable:
        hits = set(re.findall(re.escape(ch), everything, re.IGNORECASE))
        folding |= hits - {ch, ch.lower()}
    assert all(FOLDS_TO_ASCII.fullmatch(c) for c in folding), sorted(folding)


def test_required_literals_of_the_packaged_patterns() -> None:
    rules = load_rules()
    required = rules.index.required
    patterns = [i for i, t in enumerate(rules.terms) if not t.bounded]
    assert len(required) >= len(patterns) // 2  # most patterns are skipped by a literal check
    for i, literals in required.items():
        assert literals and all(lit == lit.lower() and lit.isascii() for lit in literals)
        assert i in patterns
