"""Atom 1.0 feeds of the alerts: everything, or one topic.

Entry ids are tag URIs built from the site's host and the alert's id, so they never change
whatever host name the feed is read through; ``updated`` is the time the alert was written.
The summary is plain text (the change's reasons and changed sentences, old → new); the entry
links to the diff on this web view and to the live article. XML is written by ElementTree,
which escapes every value; characters XML cannot carry are dropped first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from sqlalchemy import select as columns
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from monitor.alerts import OPS_KINDS
from monitor.alerts.render import label, one_line, safe_link
from monitor.alerts.render.view import topic_words
from monitor.models import Alert, Change, Version
from monitor.web.queries import as_columns, json_list_has

ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50
TAG_DATE = "2024"  # the tag URI's date: fixed forever, part of every id
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(value: Any) -> str:
    return _NOT_XML.sub("", str(value))


@dataclass(frozen=True, slots=True)
class FeedEntry:
    alert_id: int
    kind: str
    created_at: datetime
    article_id: int | None
    payload: dict[str, Any]
    from_seq: int | None
    to_seq: int | None


_OLD, _NEW = aliased(Version), aliased(Version)  # once: keeps the statement cache warm


def feed_entries(db: Session, topic: str | None, size: int = FEED_SIZE) -> list[FeedEntry]:
    old, new = _OLD, _NEW
    query = (
        columns(
            *as_columns(
                Alert.id,
                Alert.kind,
                Alert.created_at,
                Alert.article_id,
                Alert.payload,
                old.seq,
                new.seq,
            )
        )
        .outerjoin(Change, col(Change.id) == col(Alert.change_id))
        .outerjoin(old, col(old.id) == col(Change.from_version_id))
        .outerjoin(new, col(new.id) == col(Change.to_version_id))
        .where(col(Alert.kind).not_in(sorted(OPS_KINDS)), col(Alert.article_id).is_not(None))
        .order_by(col(Alert.created_at).desc(), col(Alert.id).desc())
        .limit(size)
    )
    if topic:
        query = query.where(json_list_has(Alert.topics, topic))
    return [FeedEntry(*row) for row in db.execute(query)]


def entry_id(site_host: str, alert_id: int) -> str:
    return f"tag:{site_host},{TAG_DATE}:cphpost-monitor/alert/{alert_id}"


def _summary(payload: dict[str, Any]) -> str:
    lines = []
    detail = one_line(payload.get("detail") or "")
    if detail:
        lines.append(detail)
    kinds = [str(k) for k in payload.get("change_kinds") or ()]
    if kinds:
        lines.append("Changed: " + ", ".join(kinds))
    for pair in payload.get("changes") or ():
        old, new = (one_line(x) for x in [*pair, "", ""][:2])
        lines.append(f"{old or '(added)'} → {new or '(removed)'}")
    topics = [topic_words(str(t)) for t in payload.get("topics") or ()]
    if topics:
        lines.append("Topics: " + ", ".join(topics))
    return "\n".join(lines) or label(str(payload.get("kind", "")))


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def render_feed(
    entries: Sequence[FeedEntry],
    *,
    title: str,
    self_url: str,
    page_url: str,
    site_url: str,
    diff_url: Callable[[FeedEntry], str],
) -> bytes:
    """The Atom document; ``updated`` is the newest entry's time (stable while nothing new)."""
    ET.register_namespace("", ATOM)
    host = urlsplit(site_url).hostname or "localhost"
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "id", f"tag:{host},{TAG_DATE}:cphpost-monitor/feed{urlsplit(self_url).path}")
    _sub(feed, "title", title)
    newest = max((e.created_at for e in entries), default=datetime(2024, 1, 1, tzinfo=UTC))
    _sub(feed, "updated", newest.isoformat())
    _sub(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=page_url)
    author = _sub(feed, "author")
    _sub(author, "name", "cphpost-monitor")
    _sub(feed, "generator", "cphpost-monitor")
    for item in entries:
        payload = item.payload or {}
        entry = _sub(feed, "entry")
        _sub(entry, "id", entry_id(host, item.alert_id))
        headline = one_line(payload.get("title") or "") or "(no headline)"
        _sub(entry, "title", f"{label(item.kind)}: {headline}")
        _sub(entry, "updated", item.created_at.isoformat())
        _sub(entry, "published", item.created_at.isoformat())
        _sub(entry, "link", rel="alternate", type="text/html", href=diff_url(item))
        live = safe_link(str(payload.get("url") or ""))
        if live:
            _sub(entry, "link", rel="related", type="text/html", href=live)
        for topic in payload.get("topics") or ():
            _sub(entry, "category", term=str(topic), label=topic_words(str(topic)))
        _sub(entry, "summary", _summary(payload), type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")
