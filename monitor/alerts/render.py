"""Alert payloads and their rendering as HTML, markdown or plain text (pure functions).

The payload is what the outbox stores: plain JSON values, so an alert can be rendered again for
any target long after the objects that produced it are gone. Everything in it comes from the
site and is untrusted: every format escapes it so that a headline such as
``<script>alert(1)</script> *boom* [x](javascript:…)`` arrives as inert text.

- html: :func:`html.escape` on every value; the diff HTML (already escaped by ``monitor.diff``)
  passes an allowlist of plain tags without attributes as a second line of defence.
- markdown (CommonMark, which apprise converts to Slack mrkdwn, Telegram markdown, …):
  ``\\ ` * _ [ ] ( ) # ! | ~ < >`` are backslash-escaped, ``&`` too where it would start an
  entity, and ``@everyone``/``@here``/``@channel`` cannot ping. Apprise then escapes ``& < >``
  for Slack itself (entity-escaping here would arrive double-escaped). The title gets the
  same treatment minus ``( ) # ! |``, which are inert on one line without ``[``.
- text: control characters stripped; one line per field.

Links are only ever ``http(s)`` URLs, percent-encoded so no markup character survives in them.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from monitor.alerts import AlertKind, is_ops_kind

Format = Literal["html", "markdown", "text"]
FORMATS: tuple[Format, ...] = ("html", "markdown", "text")
PAYLOAD_VERSION = 1
MAX_CHANGES = 5  # changed sentence pairs shown per alert
DIGEST_CHANGES = 2  # … and per alert inside a digest
MAX_FIELD = 2000  # characters kept of one stored text field
MAX_TITLE = 250

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


@dataclass(frozen=True, slots=True)
class Message:
    """What apprise sends: ``title`` and ``body`` in one format."""

    title: str
    body: str


def build_payload(
    *,
    kind: str,
    url: str,
    title: str,
    section: str,
    published: str | None,
    topics: list[str],
    evidence: str,
    changes: list[tuple[str, str]],
    diff_html: str | None,
    change_kinds: list[str],
    detail: str = "",
) -> dict[str, Any]:
    """The JSON-ready alert stored in ``Alert.payload`` (plain values, bounded sizes)."""
    return {
        "v": PAYLOAD_VERSION,
        "kind": str(kind),
        "url": url,
        "title": title[:MAX_FIELD],
        "section": section,
        "published": published,
        "topics": [str(t) for t in topics],
        "evidence": evidence[:MAX_FIELD],
        "changes": [[old[:MAX_FIELD], new[:MAX_FIELD]] for old, new in changes[: MAX_CHANGES * 2]],
        "diff_html": diff_html,
        "change_kinds": [str(k) for k in change_kinds],
        "detail": detail[:MAX_FIELD],
    }


def label(kind: str) -> str:
    return LABELS.get(kind) or kind.replace("_", " ").capitalize()


# Cleaning and escaping -------------------------------------------------------------------------

# C0/C1 controls (tab and newline kept), zero-width space, direction marks/overrides/isolates, BOM
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SPACE = re.compile(r"\s+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#!|~<>])")
_MD_TITLE_SPECIAL = re.compile(r"([\\`*_\[\]~<>])")
_ENTITY_START = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
_MENTION = re.compile(r"@(everyone|here|channel|all)\b", re.IGNORECASE)


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", text)


def one_line(text: str) -> str:
    """Controls stripped and all whitespace (newlines too) folded: a field can't forge a line."""
    return _SPACE.sub(" ", strip_controls(str(text))).strip()


def md_escape(text: str, *, title: bool = False) -> str:
    """One line of untrusted text as inert CommonMark: every character shows as itself."""
    text = one_line(text)
    text = (_MD_TITLE_SPECIAL if title else _MD_SPECIAL).sub(r"\\\1", text)
    text = _ENTITY_START.sub(r"\\&", text)
    return _MENTION.sub("@\u200c\\1", text)


def safe_link(url: str) -> str:
    """An http(s) URL with every markup character percent-encoded, else ``""``."""
    url = one_line(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return quote(url, safe=":/?#=&%+,;@-._~")


def _published(value: str | None) -> str:
    if not value:
        return ""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return one_line(value)
    if when.tzinfo is None:
        return f"{when:%Y-%m-%d %H:%M}"
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b[^<>]*>")
_ALLOWED_TAGS = frozenset(
    {"div", "p", "br", "span", "ins", "del", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em",
     "b", "i", "small", "blockquote"}
)  # fmt: skip
_BARE_AMP = re.compile(r"&(?!(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});)")
INS_OPEN = '<ins style="background:#e6ffec;text-decoration:none">'
DEL_OPEN = '<del style="background:#ffebe9">'


def sanitize_html(fragment: str) -> str:
    """Keep only plain allowlisted tags (attributes dropped); escape everything else."""

    def text(chunk: str) -> str:
        chunk = strip_controls(chunk).replace("<", "&lt;").replace(">", "&gt;")
        return _BARE_AMP.sub("&amp;", chunk)

    out: list[str] = []
    pos = 0
    for match in _TAG.finditer(fragment):
        out.append(text(fragment[pos : match.start()]))
        closing, name = match.group(1), match.group(2).lower()
        if name not in _ALLOWED_TAGS:
            out.append(html.escape(match.group(0)))
        elif name == "br":
            out.append("<br>")
        elif name == "ins" and not closing:
            out.append(INS_OPEN)
        elif name == "del" and not closing:
            out.append(DEL_OPEN)
        else:
            out.append(f"<{closing}{name}>")
        pos = match.end()
    out.append(text(fragment[pos:]))
    return "".join(out)


# One alert -------------------------------------------------------------------------------------


def _title_text(payload: Mapping[str, Any]) -> str:
    kind, title = str(payload.get("kind", "")), one_line(payload.get("title") or "")
    if is_ops_kind(kind) or kind == AlertKind.TEST:
        return (title or label(kind))[:MAX_TITLE]
    return f"{label(kind)}: {title or '(untitled)'}"[:MAX_TITLE]


def _changes(payload: Mapping[str, Any], limit: int) -> list[tuple[str, str]]:
    pairs = []
    for pair in payload.get("changes") or []:
        if isinstance(pair, Sequence) and len(pair) == 2:
            pairs.append((one_line(pair[0] or ""), one_line(pair[1] or "")))
    return pairs[:limit]


def _meta(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, plain value) lines shared by every format, empty values left out."""
    rows = [
        ("Section", one_line(payload.get("section") or "")),
        ("Published", _published(payload.get("published"))),
        ("Topics", ", ".join(one_line(t) for t in payload.get("topics") or [] if one_line(t))),
        ("Why", one_line(payload.get("evidence") or "")),
    ]
    return [(name, value) for name, value in rows if value]


def _kinds(payload: Mapping[str, Any]) -> str:
    return ", ".join(one_line(k) for k in payload.get("change_kinds") or [] if one_line(k))


def render(payload: Mapping[str, Any], fmt: Format, *, key: str | None = None) -> Message:
    """One alert as a message; ``key`` (the idempotency key) is added as a footer line."""
    if fmt == "html":
        return Message(html.escape(_title_text(payload)), _html_body(payload, MAX_CHANGES, key))
    if fmt == "markdown":
        title = md_escape(_title_text(payload), title=True)
        return Message(title, "\n".join(_md_lines(payload, MAX_CHANGES, key)))
    if fmt == "text":
        return Message(_title_text(payload), "\n".join(_text_lines(payload, MAX_CHANGES, key)))
    raise ValueError(f"unknown format {fmt!r}")


def _text_lines(payload: Mapping[str, Any], limit: int, key: str | None) -> list[str]:
    lines = [_title_text(payload)]
    link = safe_link(payload.get("url") or "")
    if link:
        lines.append(link)
    lines += [f"{name}: {value}" for name, value in _meta(payload)]
    changes = _changes(payload, limit)
    if changes:
        kinds = _kinds(payload)
        lines.append(f"What changed ({kinds}):" if kinds else "What changed:")
        for old, new in changes:
            if old:
                lines.append(f"  - was: {old}")
            if new:
                lines.append(f"  + now: {new}")
    detail = one_line(payload.get("detail") or "")
    if detail:
        lines.append(detail)
    if key:
        lines += ["", f"-- idempotency key: {one_line(key)}"]
    return lines


def _md_lines(payload: Mapping[str, Any], limit: int, key: str | None) -> list[str]:
    lines = [f"**{md_escape(_title_text(payload))}**"]
    link = safe_link(payload.get("url") or "")
    if link:
        lines.append(f"<{link}>")  # an autolink: safe_link left no '<', '>' or space in it
    lines += [f"**{name}:** {md_escape(value)}" for name, value in _meta(payload)]
    changes = _changes(payload, limit)
    if changes:
        kinds = _kinds(payload)
        lines.append(f"**What changed** ({md_escape(kinds)}):" if kinds else "**What changed:**")
        for old, new in changes:
            if old:
                lines.append(f"• was: {md_escape(old)}")
            if new:
                lines.append(f"• now: {md_escape(new)}")
    detail = one_line(payload.get("detail") or "")
    if detail:
        lines.append(md_escape(detail))
    if key:
        lines += ["", f"idempotency key: {md_escape(key)}"]
    return lines


def _html_body(payload: Mapping[str, Any], limit: int, key: str | None) -> str:
    esc = html.escape
    kind = str(payload.get("kind", ""))
    title = one_line(payload.get("title") or "") or label(kind)
    link = safe_link(payload.get("url") or "")
    out = [f"<p><strong>{esc(label(kind))}</strong></p>"]
    heading = f'<a href="{esc(link)}">{esc(title)}</a>' if link else esc(title)
    out.append(f'<h2 style="margin:0.2em 0">{heading}</h2>')
    for name, value in _meta(payload):
        out.append(f"<p><strong>{esc(name)}:</strong> {esc(value)}</p>")
    changes = _changes(payload, limit)
    if changes:
        kinds = _kinds(payload)
        note = f" <small>({esc(kinds)})</small>" if kinds else ""
        out.append(f"<h3>What changed{note}</h3>")
        out.append("<ul>")
        for old, new in changes:
            parts = []
            if old:
                parts.append(f"{DEL_OPEN}{esc(old)}</del>")
            if new:
                parts.append(f"{INS_OPEN}{esc(new)}</ins>")
            out.append(f"<li>{' → '.join(parts)}</li>")
        out.append("</ul>")
    diff_html = payload.get("diff_html")
    if isinstance(diff_html, str) and diff_html.strip():
        out.append("<h3>Word-level diff</h3>")
        out.append(sanitize_html(diff_html))
    detail = one_line(payload.get("detail") or "")
    if detail:
        out.append(f"<p>{esc(detail)}</p>")
    if key:
        out.append(f'<p style="color:#888;font-size:small">idempotency key: {esc(key)}</p>')
    return "\n".join(out)


# Digests ---------------------------------------------------------------------------------------


def render_digest(
    payloads: Sequence[Mapping[str, Any]], fmt: Format, *, keys: Sequence[str] = ()
) -> Message:
    """Several alerts as one message: a short section per alert, in the given order."""
    if len(payloads) == 1:
        return render(payloads[0], fmt, key=keys[0] if keys else None)
    counts: dict[str, int] = {}
    for payload in payloads:
        name = label(str(payload.get("kind", ""))).lower()
        counts[name] = counts.get(name, 0) + 1
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    title = f"cphpost-monitor: {len(payloads)} alerts ({summary})"[:MAX_TITLE]
    footer = f"idempotency keys: {', '.join(one_line(k) for k in keys)}" if keys else ""
    if fmt == "html":
        sections = [_html_body(p, DIGEST_CHANGES, None) for p in payloads]
        body = "\n<hr>\n".join(sections)
        if footer:
            body += f'\n<p style="color:#888;font-size:small">{html.escape(footer)}</p>'
        return Message(html.escape(title), body)
    if fmt == "markdown":
        blocks = ["\n".join(_md_lines(p, DIGEST_CHANGES, None)) for p in payloads]
        body = "\n\n".join(blocks) + (f"\n\n{md_escape(footer)}" if footer else "")
        return Message(md_escape(title, title=True), body)
    if fmt == "text":
        blocks = ["\n".join(_text_lines(p, DIGEST_CHANGES, None)) for p in payloads]
        body = "\n\n".join(blocks) + (f"\n\n-- {footer}" if footer else "")
        return Message(title, body)
    raise ValueError(f"unknown format {fmt!r}")
