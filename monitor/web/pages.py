"""What the article page and ``/api/articles/<id>`` show: timeline, topics, and a diff."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException

from monitor.alerts.render.view import topic_words
from monitor.diff import Diff
from monitor.web.params import BadRequest, parse_int
from monitor.web.queries import ArticleView, TimelineEntry, article_view, version_data
from monitor.web.render import Section, compare
from scrapers.article import Article as Page

VIEWS = ("inline", "side")
MAX_SEQ = 10**9


def _pick(view: ArticleView, params: Mapping[str, str]) -> tuple[int | None, int | None]:
    """The two versions to compare: ``from`` and ``to`` (default: the latest and the one before)."""
    seqs = [v.seq for v in view.versions]
    if not seqs:
        return None, None
    to = parse_int("to", params.get("to") or None, seqs[-1], 1, MAX_SEQ)
    earlier = [s for s in seqs if s < to]
    frm = parse_int("from", params.get("from") or None, earlier[-1] if earlier else 0, 0, MAX_SEQ)
    for seq in (to, frm):
        if seq and view.version(seq) is None:
            known = ", ".join(str(s) for s in seqs)
            raise HTTPException(404, f"this article has no version {seq} (versions: {known})")
    return (frm or None), to


def topics_with_evidence(classification: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each topic of the current version with the terms that made it, strongest first."""
    topics = dict(classification.get("topics") or {})
    evidence: dict[str, list[dict[str, Any]]] = {}
    for item in classification.get("evidence") or ():
        if isinstance(item, Mapping) and item.get("topic") in topics:
            evidence.setdefault(str(item["topic"]), []).append(
                {
                    "term": str(item.get("term", "")),
                    "field": str(item.get("field", "")),
                    "count": int(item.get("count") or 0),
                }
            )
    return [
        {
            "topic": topic,
            "words": topic_words(topic),
            "score": float(score),
            "evidence": evidence.get(topic, []),
        }
        for topic, score in sorted(topics.items(), key=lambda kv: -float(kv[1]))
    ]


def _entry_dict(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(),
        "kinds": list(entry.kinds),
        "significance": entry.significance.label,
        "details": list(entry.details),
        "held": entry.held,
        "from_version": entry.from_seq,
        "to_version": entry.version.seq if entry.version else None,
        "paywalled": entry.version.paywalled if entry.version else None,
    }


def article_context(db: Session, article_id: int, params: Mapping[str, str]) -> dict[str, Any]:
    view = article_view(db, article_id)
    if view is None:
        raise HTTPException(404, f"no article {article_id}")
    mode = params.get("view") or "inline"
    if mode not in VIEWS:
        raise BadRequest("view must be inline or side")
    frm, to = _pick(view, params)
    wanted = [s for s in (frm, to) if s is not None]
    data = version_data(db, article_id, wanted) if wanted else {}
    new = Page.from_dict(data[to]) if to is not None else None
    diff: Diff | None = None
    sections: list[Section] = []
    if frm is not None and new is not None:
        diff, sections = compare(Page.from_dict(data[frm]), new)
    article = view.article
    topics = topics_with_evidence(view.classification)
    api = {
        "id": article.id,
        "url": article.url,
        "status": article.status,
        "relevant": article.relevant,
        "topics": list(article.topics),
        "first_seen": article.first_seen.isoformat(),
        "last_checked": article.last_checked.isoformat() if article.last_checked else None,
        "published": article.published.isoformat() if article.published else None,
        "versions": [
            {
                "version": v.seq,
                "fetched_at": v.fetched_at.isoformat(),
                "title": v.title,
                "paywalled": v.paywalled,
                "relevant": v.relevant,
            }
            for v in view.versions
        ],
        "timeline": [_entry_dict(e) for e in view.timeline],
        "topic_evidence": topics,
    }
    return {
        "view": view,
        "article": article,
        "mode": mode,
        "from_seq": frm,
        "to_seq": to,
        "new": new,
        "diff": diff,
        "sections": sections,
        "topics": topics,
        "title": new.title if new is not None else article.url,
        "api": api,
    }
