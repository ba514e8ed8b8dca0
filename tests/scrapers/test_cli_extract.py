"""``cphpost-monitor extract PATH``: one recorded page, printed as a summary or as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from scrapers.article import Article, fingerprint
from tests.scrapers.recorded import FREE_STEM, HOSTILE, RECORDED, expected

try:  # importing monitor.cli imports every command module, including other engineers' ones
    from monitor.cli.common import UserError
    from monitor.cli.extract import extract_command
except ModuleNotFoundError as exc:
    if (exc.name or "").startswith(("monitor.cli.extract", "monitor.cli.common", "scrapers")):
        raise
    pytest.skip(f"monitor.cli does not import yet: {exc}", allow_module_level=True)

FREE_PAGE = RECORDED / "articles" / f"{FREE_STEM}.html"


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(extract_command)
    return app


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # the summary must not wrap mid-value in assertions


def test_json_output_is_the_expected_article_with_its_fingerprint(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, [str(FREE_PAGE), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    want = expected(FREE_STEM)
    assert {key: printed[key] for key in want} == want
    assert printed["fingerprint"] == fingerprint(Article.from_dict(printed))


def test_file_url_is_read_like_a_path(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, [FREE_PAGE.as_uri(), "--json"])
    assert json.loads(result.stdout)["url"] == expected(FREE_STEM)["url"]


def test_summary_shows_the_metadata_and_numbered_paragraphs(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, [str(FREE_PAGE)])
    want = expected(FREE_STEM)
    assert result.exit_code == 0, result.output
    for text in (want["title"], want["author"], "Paywalled", "asylum, deportation", "9 paragraphs"):
        assert text in result.stdout
    assert f"  1  {want['paragraphs'][0]}" in result.stdout


def test_summary_never_cuts_the_url_in_a_narrow_console(
    cli: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    result = CliRunner().invoke(cli, [str(FREE_PAGE)])
    folded = "".join(line.strip() for line in result.stdout.splitlines()[:3])
    assert expected(FREE_STEM)["url"] in folded.replace("URL", "", 1)


def test_summary_prints_brackets_in_text_literally(cli: typer.Typer) -> None:
    page = RECORDED / "articles" / "2025-05-07-danish-bravery-in-the-nanjing-massacre.html"
    result = CliRunner().invoke(cli, [str(page)])
    assert "Such a case is the story of […] […]" in result.stdout


def test_extraction_failure_exits_1_with_the_reason_on_stderr(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, [str(HOSTILE / "truncated-mid-body.html")])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("extraction failed: truncated HTML")


def test_missing_file_is_a_user_error(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [str(tmp_path / "nope.html")])
    assert isinstance(result.exception, UserError)
    assert "cannot read" in str(result.exception)


def test_directory_is_a_user_error(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, [str(tmp_path)])
    assert isinstance(result.exception, UserError)


def test_page_without_canonical_link_fails_on_its_file_url(
    cli: typer.Typer, tmp_path: Path
) -> None:
    page = tmp_path / "page.html"
    page.write_bytes(
        FREE_PAGE.read_bytes()
        .replace(b'<link rel="canonical"', b'<link rel="x-canonical"')
        .replace(b'<meta property="og:url"', b'<meta property="x-og-url"')
    )
    result = CliRunner().invoke(cli, [str(page)])
    assert result.exit_code == 1
    assert f"not an article URL on https://cphpost.dk: {page.as_uri()}" in result.stderr
