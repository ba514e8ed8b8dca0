"""The stored alert: plain JSON values, so an alert can be rendered long after it was queued.

Version 2 adds ``why``: for each listed topic, its own strongest evidence. Version 1 payloads
(only the one-line ``evidence`` summary) still render: ``view`` falls back to that line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

PAYLOAD_VERSION = 2
MAX_CHANGES = 5  # changed sentence pairs shown per alert
DIGEST_CHANGES = 2  # … and per alert inside a digest
MAX_FIELD = 2000  # characters kept of one stored text field
MAX_TITLE = 250
EVIDENCE_PER_TOPIC = 3


class EvidenceLike(Protocol):
    """What ``monitor.classify.Evidence`` provides (read-only attributes)."""

    @property
    def topic(self) -> str: ...
    @property
    def term(self) -> str: ...
    @property
    def field(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def weight(self) -> float: ...


def why_by_topic(
    topics: Sequence[str], evidence: Iterable[EvidenceLike], limit: int = EVIDENCE_PER_TOPIC
) -> list[dict[str, Any]]:
    """For each listed topic, in order, up to ``limit`` pieces of its own evidence, strongest
    first (weight, then count); evidence for topics not listed is left out."""
    by_topic: dict[str, list[EvidenceLike]] = {str(t): [] for t in topics}
    for item in evidence:
        if item.topic in by_topic:
            by_topic[item.topic].append(item)
    out = []
    for topic, items in by_topic.items():
        items.sort(key=lambda e: (-e.weight, -e.count, e.term))
        out.append(
            {
                "topic": topic,
                "evidence": [
                    {"term": e.term[:200], "field": e.field, "count": int(e.count)}
                    for e in items[:limit]
                ],
            }
        )
    return out


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
    why: Sequence[EvidenceLike] = (),
) -> dict[str, Any]:
    """The JSON-ready alert stored in ``Alert.payload`` (plain values, bounded sizes).

    ``evidence`` is the classifier's one-line summary (kept for old readers); ``why`` is the
    classification's evidence, grouped here per listed topic.
    """
    return {
        "v": PAYLOAD_VERSION,
        "kind": str(kind),
        "url": url,
        "title": title[:MAX_FIELD],
        "section": section,
        "published": published,
        "topics": [str(t) for t in topics],
        "evidence": evidence[:MAX_FIELD],
        "why": why_by_topic(topics, why),
        "changes": [[old[:MAX_FIELD], new[:MAX_FIELD]] for old, new in changes[: MAX_CHANGES * 2]],
        "diff_html": diff_html,
        "change_kinds": [str(k) for k in change_kinds],
        "detail": detail[:MAX_FIELD],
    }
