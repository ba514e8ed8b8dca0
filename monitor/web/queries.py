"""Reads for the web view: changes with their article, an article's timeline, two versions.

Only the columns a page shows are selected (a version's ``data`` is loaded only for the two
versions being compared), so a page costs a few indexed queries whatever the database's size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, or_
from sqlalchemy import select as columns
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from monitor.alerts import is_ops_kind
from monitor.diff import Significance
from monitor.models import Alert, Article, Change, Version
from monitor.web.params import PAGE_SIZE, ChangeFilter


def as_columns(*items: Any) -> list[Any]:
    """Model attributes as SQL columns for a many-column select (they are typed as values)."""
    return list(items)


def json_list_has(column: Any, value: str) -> Any:
    """A JSON list column (stored as text by both databases) holds the string ``value``."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return cast(column, String).like(f'%"{escaped}"%', escape="\\")


@dataclass(frozen=True, slots=True)
class ChangeRow:
    """One change as listed on ``/`` and in ``/api/changes`` and the exports."""

    id: int
    article_id: int
    created_at: datetime
    kind: str
    kinds: tuple[str, ...]
    significance: Significance
    held: bool
    details: tuple[str, ...]
    title: str
    url: str
    topics: tuple[str, ...]
    from_seq: int | None
    to_seq: int | None
    alerts: tuple[str, ...] = ()  # kinds of the alerts this change caused

    @property
    def has_diff(self) -> bool:
        return self.from_seq is not None and self.to_seq is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "article_id": self.article_id,
            "created_at": self.created_at.isoformat(),
            "kind": self.kind,
            "kinds": list(self.kinds),
            "significance": self.significance.label,
            "held": self.held,
            "details": list(self.details),
            "title": self.title,
            "url": self.url,
            "topics": list(self.topics),
            "from_version": self.from_seq,
            "to_version": self.to_seq,
            "alerts": list(self.alerts),
        }


def _details(diff: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(c.get("detail", "")) for c in diff.get("changes") or () if c.get("detail"))


# Made once: fresh aliases per query would defeat SQLAlchemy's compiled-statement cache.
_NEW, _OLD, _CURRENT = aliased(Version), aliased(Version), aliased(Version)


def _change_query(flt: ChangeFilter) -> Any:
    new, old, current = _NEW, _OLD, _CURRENT
    query = (
        columns(
            *as_columns(
                Change.id,
                Change.article_id,
                Change.created_at,
                Change.kind,
                Change.kinds,
                Change.significance,
                Change.held,
                Change.diff,
                Article.url,
                Article.topics,
                new.title,
                current.title,
                old.seq,
                new.seq,
            )
        )
        .join(Article, col(Article.id) == col(Change.article_id))
        .outerjoin(new, col(new.id) == col(Change.to_version_id))
        .outerjoin(old, col(old.id) == col(Change.from_version_id))
        .outerjoin(current, col(current.id) == col(Article.current_version_id))
    )
    if flt.topic:
        query = query.where(json_list_has(Article.topics, flt.topic))
    if flt.kind:
        query = query.where(
            or_(col(Change.kind) == flt.kind.value, json_list_has(Change.kinds, flt.kind.value))
        )
    if flt.significance is not None:
        query = query.where(col(Change.significance) >= int(flt.significance))
    if flt.start:
        query = query.where(col(Change.created_at) >= flt.start)
    if flt.end:
        query = query.where(col(Change.created_at) < flt.end)
    return query.order_by(col(Change.created_at).desc(), col(Change.id).desc())


def _rows(db: Session, found: Sequence[Sequence[Any]]) -> list[ChangeRow]:
    """Change rows with the (non-operator) alerts each caused."""
    caused: dict[int, list[str]] = {}
    ids = [values[0] for values in found]
    if ids:
        query = columns(*as_columns(Alert.change_id, Alert.kind)).where(
            col(Alert.change_id).in_(ids)
        )
        for change_id, kind in db.execute(query):
            if change_id is not None and not is_ops_kind(kind):
                caused.setdefault(change_id, []).append(kind)
    rows = []
    for values in found:
        (cid, aid, at, kind, kinds, sig, held, diff, url, topics, title, current, frm, to) = values
        rows.append(
            ChangeRow(
                id=cid,
                article_id=aid,
                created_at=at,
                kind=kind,
                kinds=tuple(kinds or (kind,)),
                significance=Significance(sig),
                held=held,
                details=_details(diff or {}),
                title=title or current or url,
                url=url,
                topics=tuple(topics or ()),
                from_seq=frm,
                to_seq=to,
                alerts=tuple(caused.get(cid, ())),
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class ChangePage:
    rows: list[ChangeRow]
    has_next: bool


def list_changes(db: Session, flt: ChangeFilter, size: int = PAGE_SIZE) -> ChangePage:
    """One page of changes, newest first, with the alerts they caused."""
    query = _change_query(flt).offset((flt.page - 1) * size).limit(size + 1)
    found = list(db.execute(query))
    return ChangePage(_rows(db, found[:size]), len(found) > size)


def iter_changes(db: Session, flt: ChangeFilter, limit: int) -> Iterator[ChangeRow]:
    """Every change the filter selects (at most ``limit``), newest first, for exports."""
    query = _change_query(flt).limit(limit)
    batch: list[Any] = []
    for values in db.execute(query.execution_options(yield_per=500)):
        batch.append(values)
        if len(batch) == 500:
            yield from _rows(db, batch)
            batch = []
    yield from _rows(db, batch)


# One article --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VersionRow:
    id: int
    seq: int
    fetched_at: datetime
    title: str
    paywalled: bool
    relevant: bool


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """A version with the change that produced it, or a lifecycle event (deleted, restored)."""

    at: datetime
    kinds: tuple[str, ...]
    significance: Significance
    details: tuple[str, ...]
    held: bool
    version: VersionRow | None
    from_seq: int | None


@dataclass(frozen=True, slots=True)
class ArticleView:
    article: Article
    versions: list[VersionRow]
    timeline: list[TimelineEntry]
    classification: dict[str, Any] = field(default_factory=dict)  # the current version's

    def version(self, seq: int) -> VersionRow | None:
        return next((v for v in self.versions if v.seq == seq), None)


def article_view(db: Session, article_id: int) -> ArticleView | None:
    article = db.get(Article, article_id)
    if article is None:
        return None
    versions = [
        VersionRow(*values)
        for values in db.execute(
            columns(
                *as_columns(
                    Version.id,
                    Version.seq,
                    Version.fetched_at,
                    Version.title,
                    Version.paywalled,
                    Version.relevant,
                )
            )
            .where(col(Version.article_id) == article_id)
            .order_by(col(Version.seq))
        )
    ]
    by_id = {v.id: v for v in versions}
    changes = db.exec(
        select(Change).where(Change.article_id == article_id).order_by(col(Change.id))
    ).all()
    timeline: list[TimelineEntry] = []
    produced: set[int] = set()
    for change in changes:
        version = by_id.get(change.to_version_id) if change.to_version_id else None
        if version is not None:
            produced.add(version.id)
        frm = by_id.get(change.from_version_id) if change.from_version_id else None
        timeline.append(
            TimelineEntry(
                at=change.created_at,
                kinds=tuple(change.kinds or (change.kind,)),
                significance=Significance(change.significance),
                details=_details(change.diff or {}),
                held=change.held,
                version=version,
                from_seq=frm.seq if frm else None,
            )
        )
    for version in versions:  # versions no change points at (none in practice): still listed
        if version.id not in produced:
            timeline.append(
                TimelineEntry(version.fetched_at, (), Significance.NONE, (), False, version, None)
            )
    timeline.sort(key=lambda e: e.at)
    classification: dict[str, Any] = {}
    if article.current_version_id is not None:
        current = db.exec(
            select(Version.classification).where(Version.id == article.current_version_id)
        ).first()
        classification = dict(current or {})
    return ArticleView(article, versions, timeline, classification)


def version_data(db: Session, article_id: int, seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
    """``seq → Version.data`` for the asked versions of one article."""
    rows = db.exec(
        select(Version.seq, Version.data).where(
            Version.article_id == article_id, col(Version.seq).in_(list(seqs))
        )
    )
    return {seq: dict(data) for seq, data in rows}


def all_versions(db: Session, article_id: int) -> Iterator[Version]:
    """Every stored version of an article, oldest first, for the exports."""
    query = select(Version).where(col(Version.article_id) == article_id).order_by(col(Version.seq))
    yield from db.exec(query.execution_options(yield_per=200))
