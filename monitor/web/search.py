"""Full-text search over every stored version: SQLite FTS5 or PostgreSQL full text.

SQLite: the index is an FTS5 table in a side file the web process owns
(``DATA_DIR/web-search.sqlite3``, attached as ``search``), so the daemon's database and its
write path stay untouched. Versions are append-only, so the index is brought up to date by
adding the versions past a high-water mark — before every search and once at start. The table
is contentless: it holds only the index; snippets are cut from the version itself.

PostgreSQL: a GIN index on the same expression the query uses (migration ``0004_search``), kept
by the database itself. The user's words go through ``websearch_to_tsquery``.

Ranking is bounded: only the newest ``RANK_LIMIT`` matching versions are scored (BM25 on
SQLite, ``ts_rank`` on PostgreSQL) and grouped by article. Finding the matches is cheap; scoring
them is what costs, and a common word matches a large share of every version ever stored. When
more versions match, the page says so and asks for more words; the newest matches are the ones
worth reading first in a news archive anyway. Snippets are cut only for the hits on the page.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup
from sqlalchemy import select as columns
from sqlalchemy import text
from sqlmodel import Session, col

from monitor.models import Article, Version
from monitor.web.db import SEARCH_SCHEMA, WebDatabase
from monitor.web.params import BadRequest
from monitor.web.queries import as_columns

MAX_QUERY = 200
RESULTS_PER_PAGE = 20
RANK_LIMIT = 2000  # matching versions scored per search, newest first
REFRESH_BATCH = 2000
# The PostgreSQL document: the same expression as the index in migration 0004_search.
PG_DOCUMENT = (
    "to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || "
    "coalesce(data ->> 'standfirst', '') || ' ' || coalesce(data ->> 'paragraphs', ''))"
)
_FTS = f"{SEARCH_SCHEMA}.version_fts"
_STATE = f"{SEARCH_SCHEMA}.version_fts_state"
_QUERY_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Hit:
    article_id: int
    url: str
    seq: int
    fetched_at: datetime
    title: str
    snippet: Markup
    matching_versions: int


@dataclass(frozen=True, slots=True)
class Results:
    query: str
    hits: list[Hit]
    has_next: bool
    capped: bool = False  # more versions match than were ranked
    rank_limit: int = RANK_LIMIT


def check_query(value: str | None) -> str:
    query = " ".join((value or "").split())
    if len(query) > MAX_QUERY:
        raise BadRequest(f"q is longer than {MAX_QUERY} characters")
    return query


def fts5_query(query: str) -> str:
    """The user's words as an FTS5 expression: every word and "quoted phrase" must occur.

    Each term is quoted, so FTS5 operators and punctuation in the input are only text; a
    trailing ``*`` on a word is kept as a prefix search.
    """
    terms: list[str] = []
    for phrase, word in _QUERY_TOKEN.findall(query):
        words = _WORD.findall(phrase if phrase else word)
        if not words:
            continue
        star = "*" if word.endswith("*") and not phrase else ""
        terms.append('"' + " ".join(words) + '"' + star)
    return " ".join(terms)


class SearchIndex:
    """The SQLite side index: created on first use, topped up with new versions."""

    def __init__(self, web: WebDatabase, rank_limit: int = RANK_LIMIT) -> None:
        self.web = web
        self.rank_limit = rank_limit
        self._lock = threading.Lock()

    def refresh(self) -> int:
        """Index the versions stored since the last refresh; returns how many were added."""
        if not self.web.is_sqlite:
            return 0
        added = 0
        with self._lock:
            raw = self.web.engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS {_FTS} USING fts5("
                    "title, standfirst, body, content='', "
                    "tokenize='porter unicode61 remove_diacritics 2')"
                )
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {_STATE} "
                    "(id INTEGER PRIMARY KEY CHECK (id = 1), upto INTEGER NOT NULL)"
                )
                while True:
                    row = cursor.execute(f"SELECT upto FROM {_STATE} WHERE id = 1").fetchone()
                    upto = row[0] if row else 0
                    top = cursor.execute(
                        "SELECT max(id) FROM (SELECT id FROM main.version WHERE id > ? "
                        "ORDER BY id LIMIT ?)",
                        (upto, REFRESH_BATCH),
                    ).fetchone()[0]
                    if top is None:
                        break
                    cursor.execute("BEGIN")  # deferred: writes lock only the side file
                    cursor.execute(
                        f"INSERT INTO {_FTS} (rowid, title, standfirst, body) "
                        "SELECT id, title, coalesce(json_extract(data, '$.standfirst'), ''), "
                        "(SELECT group_concat(value, ' ') FROM json_each(data, '$.paragraphs')) "
                        "FROM main.version WHERE id > ? AND id <= ?",
                        (upto, top),
                    )
                    added += cursor.rowcount
                    cursor.execute(
                        f"INSERT INTO {_STATE} (id, upto) VALUES (1, ?) "
                        "ON CONFLICT (id) DO UPDATE SET upto = excluded.upto",
                        (top,),
                    )
                    cursor.execute("COMMIT")
                cursor.close()
            except BaseException:
                if raw.driver_connection is not None and raw.driver_connection.in_transaction:
                    raw.driver_connection.execute("ROLLBACK")
                raise
            finally:
                raw.close()
        return added

    def search(self, db: Session, query: str, page: int) -> Results:
        if not query:
            return Results(query, [], False, rank_limit=self.rank_limit)
        offset = (page - 1) * RESULTS_PER_PAGE
        if self.web.is_sqlite:
            self.refresh()
            expression = fts5_query(query)
            if not expression:
                return Results(query, [], False, rank_limit=self.rank_limit)
            # FTS5 walks the matches in rowid order; bm25() is computed for the newest only
            matches = (
                f"SELECT rowid AS id FROM {_FTS} WHERE version_fts MATCH :q "
                "ORDER BY rowid DESC LIMIT :cap"
            )
            sql = text(
                "SELECT v.article_id, max(v.id), count(*), min(f.score) AS score FROM "
                f"(SELECT rowid AS id, bm25(version_fts) AS score FROM {_FTS} "
                "WHERE version_fts MATCH :q ORDER BY rowid DESC LIMIT :cap) AS f "
                "JOIN main.version v ON v.id = f.id "
                "GROUP BY v.article_id ORDER BY score, max(v.id) DESC LIMIT :n OFFSET :o"
            )
        else:
            expression = query
            matches = (
                "SELECT id FROM version, websearch_to_tsquery('english'::regconfig, :q) AS q "
                f"WHERE {PG_DOCUMENT} @@ q ORDER BY id DESC LIMIT :cap"
            )
            sql = text(
                "SELECT article_id, max(id), count(*), max(score) AS score FROM "
                f"(SELECT id, article_id, ts_rank({PG_DOCUMENT}, q) AS score "
                "FROM version, websearch_to_tsquery('english'::regconfig, :q) AS q "
                f"WHERE {PG_DOCUMENT} @@ q ORDER BY id DESC LIMIT :cap) AS f "
                "GROUP BY article_id ORDER BY score DESC, max(id) DESC LIMIT :n OFFSET :o"
            )
        connection = db.connection()
        cap = self.rank_limit
        params = {"q": expression, "cap": cap, "n": RESULTS_PER_PAGE + 1, "o": offset}
        found = [(int(a), int(v), int(n)) for a, v, n, _ in connection.execute(sql, params)]
        counted = text(f"SELECT count(*) FROM ({matches}) AS m")
        capped = connection.execute(counted, {"q": expression, "cap": cap + 1}).scalar_one() > cap
        hits = _hits(db, found[:RESULTS_PER_PAGE], query)
        return Results(query, hits, len(found) > RESULTS_PER_PAGE, capped, cap)


def _hits(db: Session, found: Sequence[tuple[int, int, int]], query: str) -> list[Hit]:
    if not found:
        return []
    ids = [v for _, v, _ in found]
    rows = db.execute(
        columns(
            *as_columns(
                Version.id,
                Version.seq,
                Version.fetched_at,
                Version.title,
                Version.data,
                Article.url,
            )
        )
        .join(Article, col(Article.id) == col(Version.article_id))
        .where(col(Version.id).in_(ids))
    )
    by_id = {row[0]: row for row in rows}
    terms = [w.casefold() for w in _WORD.findall(query)]
    hits = []
    for article_id, version_id, count in found:
        if version_id not in by_id:
            continue
        _, seq, fetched_at, title, data, url = by_id[version_id]
        hits.append(Hit(article_id, url, seq, fetched_at, title, snippet(data, terms), count))
    return hits


def snippet(data: dict[str, Any], terms: Sequence[str], width: int = 240) -> Markup:
    """The first passage holding a query word, escaped, the words in ``<mark>``."""
    texts = [str(data.get("standfirst") or ""), *(str(p) for p in data.get("paragraphs") or ())]
    if not terms:
        return Markup(html.escape(texts[0][:width]))
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(t[: max(3, len(t) - 2)]) for t in terms) + r")\w*",
        re.IGNORECASE,
    )
    passage, start = texts[0], 0
    for candidate in texts:
        match = pattern.search(candidate)
        if match:
            passage, start = candidate, max(0, match.start() - width // 3)
            break
    cut = passage[start : start + width]
    out, last = [], 0
    for match in pattern.finditer(cut):
        out.append(html.escape(cut[last : match.start()]))
        out.append(f"<mark>{html.escape(match.group())}</mark>")
        last = match.end()
    out.append(html.escape(cut[last:]))
    prefix = "…" if start else ""
    suffix = "…" if start + width < len(passage) else ""
    return Markup(prefix + "".join(out) + suffix)
