"""Rules files: the packaged one, a user's file extending or replacing it, and every way a file
can be wrong (one-line error naming the file and the problem)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from monitor.classify import TOPICS, RulesError, classify, load_rules

STORY = ("Mobility pass scheme opens", "", "The mobility pass lets nurses move here.")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_packaged_rules_cover_every_topic_in_order() -> None:
    text = resources.files("monitor").joinpath("rules", "migration.toml").read_text("utf-8")
    topics = tomllib.loads(text)["topics"]
    assert tuple(topics) == TOPICS
    assert all(spec["definition"] and spec["core"] for spec in topics.values())
    assert tuple(load_rules().definitions) == TOPICS


def test_extending_adds_a_term_to_the_packaged_ones(tmp_path: Path) -> None:
    path = write(tmp_path, '[topics.work_permits.core]\n"mobility pass" = 3.0\n')
    rules = load_rules(path)
    assert not classify(*STORY).relevant
    result = classify(*STORY, rules=rules)
    assert result.relevant
    assert list(result.topics) == ["work_permits"]
    assert classify("Deportation flight", "", "", rules=rules).relevant  # packaged terms stay
    assert rules.sources == ("monitor/rules/migration.toml", str(path))


def test_extending_with_weight_zero_switches_a_packaged_term_off(tmp_path: Path) -> None:
    text = '[topics.deportation.core]\n"deport*" = 0\n"deportation*" = 0\n'
    rules = load_rules(write(tmp_path, text))
    assert classify("Deportation flight", "", "", rules=rules).score == 0.0


def test_extending_can_change_one_scoring_setting(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, "[scoring]\nfield_weights = { title = 1.0 }\n"))
    assert classify("Deportation", "", "", rules=rules).score == 3.0
    assert rules.scoring.field_weights["standfirst"] == 2.0
    assert rules.scoring.relevance_threshold == load_rules().scoring.relevance_threshold


def test_extending_appends_negative_phrases(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, '[negative]\nmask = ["asylum seekers club"]\n'))
    assert classify("Asylum seekers club wins", "", "", rules=rules).score == 0.0


def test_extending_appends_patterns(tmp_path: Path) -> None:
    text = "[[topics.work_permits.patterns]]\nregex = 'mobility\\s+pass'\nweight = 3.0\n"
    assert classify(*STORY, rules=load_rules(write(tmp_path, text))).relevant


def test_replacing_keeps_only_the_users_terms(tmp_path: Path) -> None:
    path = write(tmp_path, '[topics.work_permits.core]\n"mobility pass" = 3.0\n')
    rules = load_rules(path, mode="replace")
    assert classify(*STORY, rules=rules).relevant
    assert classify("Deportation flight", "", "", rules=rules).score == 0.0
    assert rules.sources == (str(path),)
    assert rules.scoring == load_rules().scoring  # unset scoring falls back to the defaults


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("topics = [", "not valid TOML"),
        ("[topics.smuggling.core]\n'x' = 1.0\n", "topics.smuggling: unknown topic"),
        ("[topics.asylum.core]\n'asylum' = -1\n", '.core."asylum": must be at least 0'),
        ("[topics.asylum.core]\n'asylum' = 'high'\n", "expected a number, got 'high'"),
        ("[topics.asylum.core]\n'asyl(um)?' = 1\n", "looks like a regular expression"),
        ("[topics.asylum.core]\n'**' = 1\n", "empty term"),
        ("[[topics.asylum.patterns]]\nregex = 'asyl[um'\n", "patterns[0].regex: bad regular"),
        ("[[topics.asylum.patterns]]\nregex = 'x'\ntier = 'medium'\n", "must be 'core' or 'weak'"),
        ("[topics.asylum]\nterms = {}\n", "topics.asylum.terms: unknown key"),
        ("[scoring]\nthreshold = 3\n", "scoring.threshold: unknown setting"),
        ("[scoring]\nfield_weights = { lead = 2 }\n", "scoring.field_weights.lead: unknown field"),
        ("[furniture]\ndrop = ['(']\n", "furniture.drop[0]: bad regular expression"),
        ("[stopwords]\nwords = []\n", "unknown section 'stopwords'"),
        ("version = 2\n", "unsupported rules version 2"),
        ("[structure]\nroundup_titles = ['(']\n", "structure.roundup_titles[0]: bad regular"),
        ("[scoring]\npassing_coverage = '0.3'\n", "scoring.passing_coverage: expected a number"),
        ("[scoring]\nheadline_minimum = true\n", "headline_minimum: expected a number, got True"),
        ("[topics.refugees.weak]\n'x(' = 1\n", 'topics.refugees.weak."x(": term looks like'),
        ("[negative]\nmask = ['**']\n", "negative.mask[0]: empty term"),
        ("[[topics.asylum.patterns]]\nweight = 2\n", "topics.asylum.patterns[0].regex: missing"),
        ("[[topics.asylum.patterns]]\nregex = 'x'\nscore = 1\n", "patterns[0].score: unknown key"),
        ("[furniture]\nkeep = []\n", "furniture.keep: unknown setting"),
        ("[topics.asylum]\ndefinition = 3\n", "topics.asylum.definition: expected a string"),
    ],
)
def test_a_bad_rules_file_is_one_line_naming_file_and_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(RulesError) as info:
        load_rules(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert problem in message
    assert "\n" not in message


def test_a_missing_rules_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match=r"nope\.toml: no such file$"):
        load_rules(tmp_path / "nope.toml")


def test_a_replacement_file_needs_a_topic(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="needs at least one topic"):
        load_rules(write(tmp_path, "[scoring]\ncore_minimum = 1\n"), mode="replace")


def test_a_replacement_whose_terms_are_all_switched_off_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no term has a positive weight"):
        load_rules(write(tmp_path, "[topics.asylum.core]\n'asylum' = 0\n"), mode="replace")


def test_rules_error_is_a_value_error() -> None:
    assert issubclass(RulesError, ValueError)
