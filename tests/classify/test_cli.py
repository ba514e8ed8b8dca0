"""``cphpost-monitor classify``: JSON lines in, verdicts out (JSON or a table); ``--evaluate``
prints precision, recall and F1; bad input is one user error naming the line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from monitor.classify import classify, evaluate
from monitor.cli.classify import classify_command
from monitor.cli.common import UserError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DEV = FIXTURES / "labels" / "dev.jsonl"
PAGE = (
    FIXTURES
    / "cphpost"
    / "articles"
    / ("2015-05-21-denmark-oversaw-600-forced-repatriations-last-year.html")
)

DEPORTATION = {"title": "Deportation flight leaves", "standfirst": "", "body": "Forty on board."}
HARBOUR = {"title": "Harbour bath reopens", "standfirst": "", "body": ["Swimmers return."]}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CPHMON_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "300")


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(classify_command)
    return app


def run(cli: typer.Typer, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def jsonl(tmp_path: Path, *lines: object, name: str = "in.jsonl") -> Path:
    path = tmp_path / name
    text = (line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def user_error(result: Result) -> str:
    assert isinstance(result.exception, UserError), result.output
    return str(result.exception)


def test_json_prints_one_verdict_per_article_with_its_url(cli: typer.Typer, tmp_path: Path) -> None:
    path = jsonl(tmp_path, {**DEPORTATION, "url": "https://cphpost.dk/a/"}, HARBOUR)
    result = run(cli, "--input", str(path), "--json")
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    want = classify(DEPORTATION["title"], "", DEPORTATION["body"]).to_dict()
    assert first == {"url": "https://cphpost.dk/a/", **want}
    assert {k: second[k] for k in ("relevant", "score", "topics", "evidence")} == {
        "relevant": False,
        "score": 0.0,
        "topics": {},
        "evidence": [],
    }
    assert second["measures"]["focus"] == "none"
    assert first["measures"]["focus"] == "headline"


def test_articles_are_read_from_standard_input_without_input(cli: typer.Typer) -> None:
    result = run(cli, "--json", stdin=json.dumps(DEPORTATION) + "\n\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["relevant"] is True


def test_paragraphs_are_accepted_as_the_body(cli: typer.Typer) -> None:
    line = json.dumps({"title": "", "paragraphs": ["Deportation flight.", "Forty on board."]})
    result = run(cli, "--json", stdin=line)
    assert json.loads(result.stdout)["evidence"][0]["term"] == "deportation"


def test_a_url_naming_a_recorded_page_is_extracted_then_classified(
    cli: typer.Typer, tmp_path: Path
) -> None:
    path = jsonl(tmp_path, {"url": str(PAGE)})
    result = run(cli, "--input", str(path), "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["url"] == str(PAGE)
    assert verdict["relevant"] is True
    assert next(iter(verdict["topics"])) == "deportation"


def test_without_json_a_table_shows_verdict_topics_and_why(
    cli: typer.Typer, tmp_path: Path
) -> None:
    result = run(cli, "--input", str(jsonl(tmp_path, DEPORTATION, HARBOUR)))
    assert result.exit_code == 0, result.output
    assert "Deportation flight leaves" in result.stdout
    assert 'deportation: "deportation" ×1 (title)' in result.stdout
    assert "no migration evidence" in result.stdout


def test_evaluate_json_reports_the_same_figures_as_the_library(cli: typer.Typer) -> None:
    result = run(cli, "--evaluate", str(DEV), "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines()]
    want = evaluate(
        (classify(r["title"], r["standfirst"], r["body"]), r["relevant"], r["topics"]) for r in rows
    )
    got = json.loads(result.stdout)
    for key in ("articles", "relevance", "topics", "micro"):
        assert got[key] == json.loads(json.dumps(want.to_dict()[key]))
    assert len(got["mistakes"]) == len(want.mistakes)
    assert got["mistakes"][0]["name"] == f"line 1: {rows[0]['title']}"


def test_evaluate_counts_hard_negatives_and_explains_each_wrong_decision(
    cli: typer.Typer, tmp_path: Path
) -> None:
    passing = {
        "title": "Harbour bath reopens",
        "standfirst": "Swimmers are back",
        "body": ["The bath opened.", "It was busy.", "Lifeguards watched.", "Asylum seekers swam."],
        "relevant": True,
        "topics": ["asylum"],
    }
    flagged = {**DEPORTATION, "relevant": False, "topics": [], "hard_negative": True}
    labelled = jsonl(tmp_path, passing, flagged, {**HARBOUR, "relevant": False, "topics": []})
    result = run(cli, "--evaluate", str(labelled))
    assert result.exit_code == 0, result.output
    assert "hard negatives flagged: 1 of 1" in result.stdout
    assert "2 wrong decisions:" in result.stdout
    assert "false negative: line 1: Harbour bath reopens" in result.stdout
    assert "topics missed: asylum; extra: -" in result.stdout
    assert "focus passing, headline 0, lead 0, rest 3, 1/4 paragraphs" in result.stdout
    assert 'asylum: "asylum seekers" ×1 in rest, 1 paragraphs: 3' in result.stdout
    assert "false positive (hard negative): line 2: Deportation flight leaves" in result.stdout


def test_evaluate_rejects_a_hard_negative_label_that_is_not_a_boolean(
    cli: typer.Typer, tmp_path: Path
) -> None:
    bad = jsonl(tmp_path, {**HARBOUR, "relevant": False, "topics": [], "hard_negative": "yes"})
    result = run(cli, "--evaluate", str(bad))
    assert user_error(result).endswith("'hard_negative' must be true or false")


def test_evaluate_table_shows_relevance_every_topic_and_micro(cli: typer.Typer) -> None:
    result = run(cli, "--evaluate", str(DEV))
    assert result.exit_code == 0, result.output
    for label in ("relevance", "family_reunification", "topics (micro)", "precision", "F1"):
        assert label in result.stdout


def test_rules_come_from_the_classifier_rules_setting(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "extra.toml"
    rules.write_text('[topics.work_permits.core]\n"mobility pass" = 3.0\n', encoding="utf-8")
    monkeypatch.setenv("CPHMON_CLASSIFIER_RULES", str(rules))
    result = run(cli, "--json", stdin=json.dumps({"title": "Mobility pass for nurses"}))
    assert json.loads(result.stdout)["topics"] == {"work_permits": 9.0}


def test_a_bad_rules_file_in_settings_is_a_user_error(
    cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "bad.toml"
    rules.write_text("[topics.smuggling.core]\n", encoding="utf-8")
    monkeypatch.setenv("CPHMON_CLASSIFIER_RULES", str(rules))
    message = user_error(run(cli, "--json", stdin=json.dumps(DEPORTATION)))
    assert message.startswith(f"{rules}: topics.smuggling: unknown topic")


def test_a_missing_input_file_is_a_user_error(cli: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "none.jsonl"
    assert user_error(run(cli, "--input", str(path))) == f"{path}: no such file"


def test_a_line_that_is_not_json_is_named_by_number(cli: typer.Typer, tmp_path: Path) -> None:
    path = jsonl(tmp_path, DEPORTATION, "", "{not json")
    assert user_error(run(cli, "--input", str(path))) == f"line 3 of {path}: not valid JSON"


def test_a_line_that_is_not_an_object_is_a_user_error(cli: typer.Typer) -> None:
    message = user_error(run(cli, stdin='["a list"]\n'))
    assert message == "line 1 of <stdin>: expected a JSON object"


def test_a_line_without_text_or_url_is_a_user_error(cli: typer.Typer) -> None:
    message = user_error(run(cli, stdin=json.dumps({"title": " ", "body": []})))
    assert message == "line 1 of <stdin>: no text (title, standfirst, body) and no url"


def test_a_url_that_is_not_a_recorded_page_is_a_user_error(cli: typer.Typer) -> None:
    message = user_error(run(cli, stdin=json.dumps({"url": "https://cphpost.dk/x/"})))
    assert message == (
        "line 1 of <stdin>: no text, and url 'https://cphpost.dk/x/' is not a recorded page file"
    )


def test_a_body_of_the_wrong_type_is_a_user_error(cli: typer.Typer) -> None:
    message = user_error(run(cli, stdin=json.dumps({"title": "x", "body": 3})))
    assert message == "line 1 of <stdin>: body must be a string or a list of strings"


def test_evaluate_needs_a_relevant_label(cli: typer.Typer, tmp_path: Path) -> None:
    path = jsonl(tmp_path, {**DEPORTATION, "topics": ["deportation"]})
    message = user_error(run(cli, "--evaluate", str(path)))
    assert message == f"line 1 of {path}: needs a 'relevant' label (true or false)"


def test_evaluate_rejects_a_topic_outside_the_vocabulary(cli: typer.Typer, tmp_path: Path) -> None:
    path = jsonl(tmp_path, {**DEPORTATION, "relevant": True, "topics": ["expulsion"]})
    message = user_error(run(cli, "--evaluate", str(path)))
    assert message == f"line 1 of {path}: unknown topic 'expulsion'"


def test_input_and_evaluate_together_is_a_user_error(cli: typer.Typer) -> None:
    message = user_error(run(cli, "--input", str(DEV), "--evaluate", str(DEV)))
    assert "do not combine it with --input" in message
