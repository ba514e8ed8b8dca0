"""The web view on PostgreSQL: pages, full-text search through the GIN index, read-only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session
from starlette.testclient import TestClient

from monitor.db import engine_for
from monitor.web.app import create_app
from monitor.web.db import WebDatabase, open_readonly
from monitor.web.search import PG_DOCUMENT, SearchIndex
from tests.dbs import pg_schema_url
from tests.web.conftest import Filled, fill
from tests.web.test_api_exports import assert_details_as_stored

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Filled, WebDatabase]]:
    with pg_schema_url() as url:
        filled = fill(url, Path(tmp_path_factory.mktemp("pgweb")))
        web = open_readonly(filled.settings)
        yield filled, web
        web.engine.dispose()
        engine_for(url).dispose()


def test_pages_and_search_work_on_postgres(pg: tuple[Filled, WebDatabase]) -> None:
    filled, web = pg
    client = TestClient(create_app(filled.settings, web))
    assert len(LexborHTMLParser(client.get("/").text).css("tr.change")) == 6
    article = LexborHTMLParser(client.get(f"/articles/{filled.rejected}").text)
    assert article.css_first(".field-body del").text() == "550"
    tree = LexborHTMLParser(client.get("/search", params={"q": "forced repatriation"}).text)
    assert [a.text() for a in tree.css(".hit a.article-link")] == [
        "Denmark oversaw 600 forced repatriations last year"
    ]
    assert client.get("/search", params={"q": 'asylum OR "x -y'}).status_code == 200
    assert client.get("/feed.atom").status_code == 200


def test_change_details_come_from_postgres_as_the_diff_stored_them(
    pg: tuple[Filled, WebDatabase],
) -> None:
    filled, web = pg
    assert_details_as_stored(TestClient(create_app(filled.settings, web)), filled)


def test_postgres_search_uses_the_gin_index(pg: tuple[Filled, WebDatabase]) -> None:
    _, web = pg
    with web.engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        plan = connection.execute(
            text(
                f"EXPLAIN SELECT id FROM version WHERE {PG_DOCUMENT} @@ "
                "websearch_to_tsquery('english'::regconfig, 'asylum')"
            )
        ).all()
    assert "ix_version_search" in "\n".join(row[0] for row in plan)


def test_the_web_connections_are_read_only_on_postgres(pg: tuple[Filled, WebDatabase]) -> None:
    _, web = pg
    with web.engine.connect() as connection, pytest.raises(DBAPIError, match="read-only"):
        connection.execute(text("DELETE FROM fetchlog"))


def test_postgres_ranks_only_the_newest_matching_versions(pg: tuple[Filled, WebDatabase]) -> None:
    filled, web = pg
    with Session(web.engine) as db:
        bounded = SearchIndex(web, rank_limit=2).search(db, "asylum", 1)
        exact = SearchIndex(web, rank_limit=5).search(db, "asylum", 1)
    assert bounded.capped and not exact.capped
    assert sorted((h.article_id, h.seq) for h in bounded.hits) == [
        (filled.rejected, 2),
        (filled.hostile, 2),
    ]
    assert sorted(h.article_id for h in exact.hits) == sorted(
        [filled.rejected, filled.repatriations, filled.hostile]
    )
