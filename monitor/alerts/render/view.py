"""What every format shows, read once from a payload: a :class:`View` of plain, inert lines.

The format modules (``as_text``, ``as_markdown``, ``as_html``) only lay a view out and escape
for their syntax; they register themselves with :func:`register` (urlwatch-style reporters),
so adding a format is adding a module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from monitor.alerts import AlertKind, is_ops_kind
from monitor.alerts.render.clean import inert, one_line, safe_link
from monitor.alerts.render.payload import MAX_TITLE

Format = Literal["html", "markdown", "text"]

LABELS: dict[str, str] = {
    AlertKind.NEW: "New article",
    AlertKind.CHANGED: "Article changed",
    AlertKind.PAYWALL: "Paywall changed",
    AlertKind.DELETED: "Article deleted",
    AlertKind.RESTORED: "Article restored",
    AlertKind.RELEVANCE_GAINED: "Now about migration",
    AlertKind.OPS_FAILURE: "Monitor problem",
    AlertKind.OPS_RECOVERED: "Monitor recovered",
    AlertKind.TEST: "Test notification",
}
FIELD_NAMES = {"title": "the headline", "standfirst": "the standfirst", "body": "the body"}


@dataclass(frozen=True, slots=True)
class Message:
    """What apprise sends: ``title`` and ``body`` in one format."""

    title: str
    body: str


def label(kind: str) -> str:
    return LABELS.get(kind) or kind.replace("_", " ").capitalize()


def topic_words(topic: str) -> str:
    """``immigration_statistics`` → ``immigration statistics``: a topic as a reader says it."""
    return one_line(str(topic).replace("_", " ").replace("-", " "))


@dataclass(frozen=True, slots=True)
class Why:
    topic: str  # in words
    evidence: tuple[str, ...]  # '“asylum seekers” ×3 in the body'


@dataclass(frozen=True, slots=True)
class View:
    """One alert as plain one-line values, mentions already broken (see ``clean.inert``)."""

    kind: str
    label: str
    title: str  # the message title: 'Article changed: <headline>'
    headline: str
    link: str
    meta: tuple[tuple[str, str], ...]  # (name, value): section, published, topics
    why: tuple[Why, ...]
    why_line: str  # a version 1 payload's one-line evidence summary
    changes: tuple[tuple[str, str], ...]
    kinds: str
    summary: str  # the diff's reasons (article alerts) or the message (ops, test)
    diff_html: str

    @property
    def is_article(self) -> bool:
        return not (is_ops_kind(self.kind) or self.kind == AlertKind.TEST)


def _text(value: Any) -> str:
    return inert(one_line(value or ""))


def _published(value: str | None) -> str:
    if not value:
        return ""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return _text(value)
    if when.tzinfo is None:
        return f"{when:%Y-%m-%d %H:%M}"
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _evidence(item: Any) -> str:
    if not isinstance(item, Mapping):
        return ""
    term = _text(item.get("term"))
    if not term:
        return ""
    count = item.get("count")
    times = f" ×{count}" if isinstance(count, int) and count > 1 else ""
    where = FIELD_NAMES.get(str(item.get("field")), "")
    return f"“{term}”{times}" + (f" in {where}" if where else "")


def _why(payload: Mapping[str, Any]) -> tuple[Why, ...]:
    out = []
    for entry in payload.get("why") or []:
        if not isinstance(entry, Mapping):
            continue
        evidence = tuple(e for e in map(_evidence, entry.get("evidence") or []) if e)
        topic = topic_words(entry.get("topic") or "")
        if topic and evidence:
            out.append(Why(inert(topic), evidence))
    return tuple(out)


def _changes(payload: Mapping[str, Any], limit: int) -> tuple[tuple[str, str], ...]:
    pairs = []
    for pair in payload.get("changes") or []:
        if isinstance(pair, Sequence) and not isinstance(pair, str) and len(pair) == 2:
            pairs.append((_text(pair[0]), _text(pair[1])))
    return tuple(p for p in pairs if p[0] or p[1])[:limit]


def view(payload: Mapping[str, Any], limit: int) -> View:
    """The view of one stored payload (any version), at most ``limit`` changed sentences."""
    kind = str(payload.get("kind", ""))
    headline = _text(payload.get("title"))
    name = label(kind)
    if is_ops_kind(kind) or kind == AlertKind.TEST:
        title = (headline or name)[:MAX_TITLE]
    else:
        title = f"{name}: {headline or '(untitled)'}"[:MAX_TITLE]
    topics = ", ".join(t for t in (inert(topic_words(t)) for t in payload.get("topics") or []) if t)
    meta = (
        ("Section", _text(payload.get("section"))),
        ("Published", _published(payload.get("published"))),
        ("Topics", topics),
    )
    why = _why(payload)
    kinds = ", ".join(k for k in (_text(k) for k in payload.get("change_kinds") or []) if k)
    diff_html = payload.get("diff_html")
    return View(
        kind=kind,
        label=name,
        title=title,
        headline=headline or name,
        link=safe_link(str(payload.get("url") or "")),
        meta=tuple((n, v) for n, v in meta if v),
        why=why,
        why_line="" if why else _text(payload.get("evidence")),  # a version 1 payload
        changes=_changes(payload, limit),
        kinds=kinds,
        summary=_text(payload.get("detail")),
        diff_html=diff_html if isinstance(diff_html, str) else "",
    )


def digest_title(views: Sequence[View]) -> str:
    counts: dict[str, int] = {}
    for item in views:
        counts[item.label.lower()] = counts.get(item.label.lower(), 0) + 1
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    return f"cphpost-monitor: {len(views)} alerts ({summary})"[:MAX_TITLE]


@dataclass(frozen=True, slots=True)
class Renderer:
    one: Callable[[View], Message]
    digest: Callable[[Sequence[View]], Message]


RENDERERS: dict[str, Renderer] = {}


def register(fmt: Format, one: Callable[[View], Message], digest: Callable[..., Message]) -> None:
    RENDERERS[fmt] = Renderer(one, digest)
