"""Reads for the web view: changes with their article, an article's timeline, two versions.

Only the columns a page shows are selected, and never a whole ``Change.diff``: the database
hands over just the ``detail`` strings of its changes (:class:`DiffDetails`), so a row costs
the same whatever the size of the texts the diff holds. A version's ``data`` is loaded only for
the two versions being compared. ``/`` first picks the page's change ids from the
``created_at`` index, then joins articles and versions for those rows only, so the last page
costs about what the first does. Reads go through the session's connection (Core rows, no ORM
loading): these are read-only views, never written back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, cast, or_
from sqlalchemy import select as columns
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
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


class DiffDetails(FunctionElement[Any]):
    """``DiffDetails(change.diff)``: the non-empty ``detail`` of each of the diff's changes,
    as a JSON list, computed by the database (SQLite JSON1, PostgreSQL json functions)."""

    type = JSON()
    name = "diff_details"
    inherit_cache = True


@compiles(DiffDetails, "sqlite")
def _details_sqlite(element: DiffDetails, compiler: SQLCompiler, **kw: Any) -> str:
    diff = compiler.process(element.clauses, **kw)
    detail = "json_extract(value, '$.detail')"
    return (
        f"(SELECT json_group_array({detail}) FROM json_each({diff}, '$.changes') "
        f"WHERE coalesce({detail}, '') != '')"
    )


@compiles(DiffDetails, "postgresql")
def _details_postgresql(element: DiffDetails, compiler: SQLCompiler, **kw: Any) -> str:
    diff = compiler.process(element.clauses, **kw)
    return (
        "(SELECT coalesce(json_agg(c.value ->> 'detail'), '[]'::json) "
        f"FROM json_array_elements(({diff}) -> 'changes') AS c "
        "WHERE coalesce(c.value ->> 'detail', '') <> '')"
    )


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


# Made once: fresh aliases per query would defeat SQLAlchemy's compiled-statement cache.
_NEW, _OLD, _CURRENT = aliased(Version), aliased(Version), aliased(Version)


def _selected_ids(flt: ChangeFilter) -> Any:
    """The ids of the changes the filter selects, newest first (paged by the caller)."""
    query = columns(col(Change.id))
    if flt.topic:
        query = query.join(Article, col(Article.id) == col(Change.article_id)).where(
            json_list_has(Article.topics, flt.topic)
        )
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


def _change_query(ids: Any) -> Any:
    """The listed columns of the changes whose ids the subquery ``ids`` yields, newest first."""
    new, old, current = _NEW, _OLD, _CURRENT
    return (
        columns(
            *as_columns(
                Change.id,
                Change.article_id,
                Change.created_at,
                Change.kind,
                Change.kinds,
                Change.significance,
                Change.held,
                DiffDetails(Change.diff),
                Article.url,
                Article.topics,
                new.title,
                current.title,
                old.seq,
                new.seq,
            )
        )
        .join(ids, ids.c.id == col(Change.id))
        .join(Article, col(Article.id) == col(Change.article_id))
        .outerjoin(new, col(new.id) == col(Change.to_version_id))
        .outerjoin(old, col(old.id) == col(Change.from_version_id))
        .outerjoin(current, col(current.id) == col(Article.current_version_id))
        .order_by(col(Change.created_at).desc(), col(Change.id).desc())
    )


def _rows(db: Session, found: Sequence[Sequence[Any]]) -> list[ChangeRow]:
    """Change rows with the (non-operator) alerts each caused."""
    caused: dict[int, list[str]] = {}
    ids = [values[0] for values in found]
    if ids:
        query = columns(*as_columns(Alert.change_id, Alert.kind)).where(
            col(Alert.change_id).in_(ids)
        )
        for change_id, kind in db.connection().execute(query):
            if change_id is not None and not is_ops_kind(kind):
                caused.setdefault(change_id, []).append(kind)
    rows = []
    for values in found:
        (cid, aid, at, kind, kinds, sig, held, details, url, topics, title, current, frm, to) = (
            values
        )
        rows.append(
            ChangeRow(
                id=cid,
                article_id=aid,
                created_at=at,
                kind=kind,
                kinds=tuple(kinds or (kind,)),
                significance=Significance(sig),
                held=held,
                details=tuple(details or ()),
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
    ids = _selected_ids(flt).offset((flt.page - 1) * size).limit(size + 1).subquery("page")
    found = list(db.connection().execute(_change_query(ids)))
    return ChangePage(_rows(db, found[:size]), len(found) > size)


def iter_changes(db: Session, flt: ChangeFilter, limit: int) -> Iterator[ChangeRow]:
    """Every change the filter selects (at most ``limit``), newest first, for exports."""
    query = _change_query(_selected_ids(flt).limit(limit).subquery("page"))
    batch: list[Any] = []
    for values in db.connection().execute(query.execution_options(yield_per=500)):
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
        for values in db.connection().execute(
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
    changes = db.connection().execute(
        columns(
            *as_columns(
                Change.created_at,
                Change.kind,
                Change.kinds,
                Change.significance,
                DiffDetails(Change.diff),
                Change.held,
                Change.from_version_id,
                Change.to_version_id,
            )
        )
        .where(col(Change.article_id) == article_id)
        .order_by(col(Change.id))
    )
    timeline: list[TimelineEntry] = []
    produced: set[int] = set()
    for at, kind, kinds, significance, details, held, from_id, to_id in changes:
        version = by_id.get(to_id) if to_id else None
        if version is not None:
            produced.add(version.id)
        frm = by_id.get(from_id) if from_id else None
        timeline.append(
            TimelineEntry(
                at=at,
                kinds=tuple(kinds or (kind,)),
                significance=Significance(significance),
                details=tuple(details or ()),
                held=held,
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
