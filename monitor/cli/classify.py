"""``classify``: run the migration classifier over JSON lines, or evaluate it against labels.

Input lines are JSON objects with ``title``, ``standfirst`` and ``body`` (a string or a list of
paragraphs; ``paragraphs`` is accepted too), or with only a ``url`` naming a recorded page file,
which is extracted with the cphpost scraper first. The lead registers :func:`classify_command`
on the shared app (``app.command("classify")(classify_command)``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

import typer
from rich.table import Table
from rich.text import Text

from monitor.classify import (
    TOPICS,
    Classification,
    Evaluation,
    Label,
    Metrics,
    Mistake,
    Rules,
    RulesError,
    classify,
    evaluate_labels,
    load_rules,
)
from monitor.cli.common import UserError, console, settings

InputOption = Annotated[
    Path | None,
    typer.Option(
        "--input",
        "-i",
        help="JSON-lines file of articles (default: standard input).",
        show_default=False,
        dir_okay=False,
    ),
]
JsonFlag = Annotated[
    bool,
    typer.Option("--json", help="Print JSON (one line per article, or one evaluation object)."),
]
EvaluateOption = Annotated[
    Path | None,
    typer.Option(
        "--evaluate",
        help="JSON-lines file labelled with 'relevant' and 'topics' (and optionally "
        "'hard_negative'): print precision, recall and F1 for relevance and for each topic, the "
        "hard negatives flagged, and every wrong decision with its evidence and measures.",
        show_default=False,
        dir_okay=False,
    ),
]


def classify_command(
    input: InputOption = None,
    json_output: JsonFlag = False,
    evaluate: EvaluateOption = None,
) -> None:
    """Say whether each article is about migration, which topics, and which terms matched.

    Input: JSON lines with title, standfirst and body (or paragraphs), or a recorded page url.
    """
    if input is not None and evaluate is not None:
        raise UserError("--evaluate reads its own labelled file; do not combine it with --input")
    rules = _rules()
    if evaluate is not None:
        _evaluate(evaluate, rules, json_output)
        return
    rows: list[tuple[_Record, Classification]] = []
    for record in _records(input):
        result = classify(record.title, record.standfirst, record.body, rules)
        if json_output:
            out = {"url": record.url} if record.url else {}
            typer.echo(json.dumps({**out, **result.to_dict()}, ensure_ascii=False))
        else:
            rows.append((record, result))
    if not json_output:
        _print_table(rows)


def register(app: typer.Typer) -> None:
    """Add the command to ``app`` (for the lead's command registry)."""
    app.command("classify")(classify_command)


# --------------------------------------------------------------------------------------------
# Input
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Record:
    line: int
    title: str
    standfirst: str
    body: str | Sequence[str]
    url: str | None
    data: dict[str, Any]


def _rules() -> Rules:
    s = settings()
    try:
        return load_rules(s.classifier_rules, s.classifier_rules_mode)
    except RulesError as exc:
        raise UserError(str(exc)) from None


def _lines(path: Path | None) -> Iterator[tuple[int, str]]:
    if path is None:
        yield from enumerate(sys.stdin, 1)
        return
    try:
        with path.open(encoding="utf-8") as fh:
            yield from enumerate(fh, 1)
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a JSON-lines file") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _records(path: Path | None) -> Iterator[_Record]:
    """Parsed input lines; blank lines are skipped, anything else wrong is a user error."""
    name = str(path) if path is not None else "<stdin>"
    for number, raw in _lines(path):
        if not raw.strip():
            continue
        where = f"line {number} of {name}"
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raise UserError(f"{where}: not valid JSON") from None
        if not isinstance(data, dict):
            raise UserError(f"{where}: expected a JSON object")
        yield _record(data, number, where, path)


def _text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UserError(f"{where}: {key} must be a string")
    return value


def _body(data: dict[str, Any], where: str) -> str | list[str]:
    for key in ("body", "paragraphs"):
        value = data.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            return value
        if isinstance(value, list) and all(isinstance(p, str) for p in value):
            return value
        raise UserError(f"{where}: {key} must be a string or a list of strings")
    return ""


def _record(data: dict[str, Any], number: int, where: str, path: Path | None) -> _Record:
    title = _text(data, "title", where)
    standfirst = _text(data, "standfirst", where)
    body = _body(data, where)
    url = data.get("url")
    if url is not None and not isinstance(url, str):
        raise UserError(f"{where}: url must be a string")
    paragraphs = [body] if isinstance(body, str) else body
    has_text = any(part.strip() for part in (title, standfirst, *paragraphs))
    if not has_text:
        if not url:
            raise UserError(f"{where}: no text (title, standfirst, body) and no url")
        title, standfirst, body = _from_page(url, where, path)
    return _Record(number, title, standfirst, body, url, data)


def _page_path(url: str, base: Path | None) -> Path | None:
    """The local file a ``url`` names (a path or ``file://`` URL), if it exists."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        candidates = [Path(unquote(parts.path))]
    elif parts.scheme in ("",) or len(parts.scheme) == 1:  # a path (or a Windows drive letter)
        candidates = [Path(url).expanduser()]
        if base is not None and not Path(url).is_absolute():
            candidates.append(base.parent / url)
    else:
        return None
    return next((c for c in candidates if c.is_file()), None)


def _from_page(url: str, where: str, base: Path | None) -> tuple[str, str, list[str]]:
    """Title, standfirst and paragraphs of a recorded page, through the site's extractor."""
    page = _page_path(url, base)
    if page is None:
        raise UserError(f"{where}: no text, and url {url!r} is not a recorded page file")
    from scrapers.article import ExtractionFailure  # the scraper loads only when a page is given

    try:
        data = page.read_bytes()
    except OSError as exc:
        raise UserError(f"{where}: cannot read {page} ({exc.strerror or exc})") from None
    site = settings().scraper
    result = site.extract(data, page.resolve().as_uri(), site.default_origin)
    if isinstance(result, ExtractionFailure):
        raise UserError(f"{where}: {page}: extraction failed: {result.reason}")
    return result.title, result.standfirst, list(result.paragraphs)


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def _print_table(rows: list[tuple[_Record, Classification]]) -> None:
    if not rows:
        console.print("no articles")
        return
    table = Table(show_lines=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("Relevant")
    table.add_column("Score", justify="right")
    table.add_column("Topics")
    table.add_column("Article", overflow="fold")
    table.add_column("Why", overflow="fold")
    for record, result in rows:
        label = Text("yes", style="bold green") if result.relevant else Text("no", style="dim")
        topics = ", ".join(result.topics) or "-"
        article = record.title or record.url or "-"
        table.add_row(
            str(record.line),
            label,
            f"{result.score:g}",
            Text(topics),
            Text(article),
            Text(result.summary()),
        )
    console.print(table)


def _label(record: _Record, where: str) -> Label:
    relevant = record.data.get("relevant")
    if not isinstance(relevant, bool):
        raise UserError(f"{where}: needs a 'relevant' label (true or false)")
    topics = record.data.get("topics", [])
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise UserError(f"{where}: 'topics' must be a list of topic names")
    unknown = [t for t in topics if t not in TOPICS]
    if unknown:
        raise UserError(f"{where}: unknown topic {unknown[0]!r}")
    hard = record.data.get("hard_negative", False)
    if not isinstance(hard, bool):
        raise UserError(f"{where}: 'hard_negative' must be true or false")
    name = f"line {record.line}: {record.title or record.url or '(untitled)'}"
    return Label(relevant, tuple(topics), hard, name)


def _evaluate(path: Path, rules: Rules, json_output: bool) -> None:
    items: list[tuple[Classification, Label]] = []
    for record in _records(path):
        label = _label(record, f"line {record.line} of {path}")
        items.append((classify(record.title, record.standfirst, record.body, rules), label))
    if not items:
        raise UserError(f"{path}: no labelled articles")
    report = evaluate_labels(items)
    if json_output:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        _print_evaluation(report, path)


def _print_evaluation(report: Evaluation, path: Path) -> None:
    table = Table(title=f"{path}: {report.articles} articles")
    for name in ("", "support", "TP", "FP", "FN", "precision", "recall", "F1"):
        table.add_column(name, justify="left" if not name else "right")

    def row(name: str, m: Metrics, style: str = "") -> None:
        cells = (m.support, m.tp, m.fp, m.fn)
        ratios = (m.precision, m.recall, m.f1)
        table.add_row(
            name, *(str(c) for c in cells), *(f"{r:.3f}" for r in ratios), style=style or None
        )

    row("relevance", report.relevance, "bold")
    table.add_section()
    for topic in TOPICS:
        row(topic, report.topics[topic])
    table.add_section()
    row("topics (micro)", report.micro, "bold")
    console.print(table)
    negatives = report.articles - report.relevance.support
    console.print(
        f"not relevant flagged: {report.relevance.fp} of {negatives}; "
        f"hard negatives flagged: {report.hard_negatives_flagged} of {report.hard_negatives}"
    )
    if report.mistakes:
        typer.echo(f"\n{len(report.mistakes)} wrong decisions:")
    for mistake in report.mistakes:
        typer.echo("\n".join(_mistake_lines(mistake)))


def _mistake_lines(mistake: Mistake, evidence: int = 6) -> list[str]:
    verdict = mistake.verdict
    hard = " (hard negative)" if mistake.hard_negative else ""
    lines = [f"{mistake.confusion}{hard}: {mistake.name}"]
    if mistake.missed or mistake.extra:
        missed = ", ".join(mistake.missed) or "-"
        extra = ", ".join(mistake.extra) or "-"
        lines.append(f"  topics missed: {missed}; extra: {extra}")
    if verdict.measures is not None:
        lines.append(f"  score {verdict.score:g}; {verdict.measures.describe()}")
    for ev in verdict.evidence[:evidence]:
        paragraphs = f", {ev.paragraphs} paragraphs" if ev.field == "body" else ""
        lines.append(
            f'  {ev.topic}: "{ev.term}" ×{ev.count} in {ev.where}{paragraphs}: {ev.weight:g}'
        )
    if len(verdict.evidence) > evidence:
        lines.append(f"  … and {len(verdict.evidence) - evidence} more")
    return lines
