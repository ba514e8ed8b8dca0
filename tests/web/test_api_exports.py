"""JSON API and the researchers' exports (JSON and CSV)."""

from __future__ import annotations

import csv
import io

from sqlmodel import Session, select
from starlette.testclient import TestClient

from monitor.db import engine_for
from monitor.models import Change, Version
from tests.web.conftest import HOSTILE_TITLE, REJECTED, Filled


def test_api_changes_lists_changes_newest_first_with_their_filters(client: TestClient) -> None:
    data = client.get("/api/changes").json()
    assert data["page"] == 1 and data["next_page"] is None
    kinds = [c["kinds"] for c in data["changes"]]
    assert kinds[0] == ["deleted"] and len(kinds) == 6
    only = client.get("/api/changes", params={"kind": "correction"}).json()["changes"]
    assert [(c["url"], c["from_version"], c["to_version"]) for c in only] == [(REJECTED, 1, 2)]
    assert only[0]["alerts"] == ["changed"]
    assert "number changed: 550 → 548" in only[0]["details"]


def test_api_errors_are_json(client: TestClient) -> None:
    bad = client.get("/api/changes", params={"page": "x"})
    assert bad.status_code == 400 and bad.json() == {
        "error": "page must be a whole number, not 'x'"
    }
    missing = client.get("/api/articles/999999")
    assert missing.status_code == 404 and missing.json() == {"error": "no article 999999"}


def test_api_article_has_versions_timeline_and_topic_evidence(
    client: TestClient, filled: Filled
) -> None:
    data = client.get(f"/api/articles/{filled.rejected}").json()
    assert data["url"] == REJECTED
    assert [v["version"] for v in data["versions"]] == [1, 2]
    assert [t["kinds"] for t in data["timeline"]] == [["new"], ["headline", "body", "correction"]]
    topics = {t["topic"]: t for t in data["topic_evidence"]}
    assert "asylum" in topics and topics["asylum"]["evidence"]
    assert topics["asylum"]["words"] == "asylum"


def test_an_articles_versions_export_as_json_with_their_text(
    client: TestClient, filled: Filled
) -> None:
    response = client.get(f"/articles/{filled.rejected}/versions.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    versions = response.json()
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["title"].startswith("Number of rejected")
    assert any("548" in p for p in versions[1]["paragraphs"])


def test_an_articles_versions_export_as_csv_and_hostile_text_stays_text(
    client: TestClient, filled: Filled
) -> None:
    response = client.get(f"/articles/{filled.hostile}/versions.csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["version"] for r in rows] == ["1", "2"]
    assert rows[0]["title"] == HOSTILE_TITLE
    assert rows[1]["paywalled"] == "false"
    assert "onerror" in rows[1]["body"]


def test_a_date_range_of_changes_exports_as_csv_and_json(client: TestClient) -> None:
    params = {"since": "2026-11-20", "until": "2026-11-20", "kind": "new"}
    rows = list(csv.DictReader(io.StringIO(client.get("/exports/changes.csv", params=params).text)))
    assert len(rows) == 3 and {r["kind"] for r in rows} == {"new"}
    as_json = client.get("/exports/changes.json", params=params).json()
    assert [c["id"] for c in as_json] == [int(r["id"]) for r in rows]
    none = client.get("/exports/changes.json", params={"since": "2030-01-01"}).json()
    assert none == []


def test_exports_refuse_bad_ranges_and_unknown_formats(client: TestClient, filled: Filled) -> None:
    assert client.get("/exports/changes.csv", params={"until": "soon"}).status_code == 400
    assert client.get("/exports/changes.json", params={"page": "2"}).status_code == 400
    assert client.get("/exports/changes.json", params={"kind": "rumour"}).status_code == 400
    assert client.get("/exports/changes.xlsx").status_code == 404
    assert client.get(f"/articles/{filled.rejected}/versions.xml").status_code == 404
    assert client.get("/articles/999999/versions.csv").status_code == 404


def test_csv_cells_that_look_like_formulas_are_kept_as_text() -> None:
    from monitor.web.exports import csv_rows

    text = "".join(csv_rows(("a", "b"), [{"a": "=HYPERLINK(1)", "b": "-5"}, {"a": "ok", "b": 1}]))
    assert text == "a,b\r\n'=HYPERLINK(1),'-5\r\nok,1\r\n"


def stored_details(url: str) -> dict[tuple[int, int | None, int | None], list[str]]:
    """Each change's non-empty details as the write path stored them in ``Change.diff``,
    keyed by (article, from version, to version), read through the daemon's own engine."""
    engine = engine_for(url)
    with Session(engine) as db:
        changes = db.exec(select(Change)).all()
        seq = {v.id: v.seq for v in db.exec(select(Version)).all()}
    return {
        (c.article_id, seq.get(c.from_version_id), seq.get(c.to_version_id)): [
            str(x["detail"]) for x in c.diff.get("changes") or () if x.get("detail")
        ]
        for c in changes
    }


def assert_details_as_stored(client: TestClient, filled: Filled) -> None:
    stored = stored_details(filled.url)
    listed = client.get("/api/changes").json()["changes"]
    assert len(listed) == 6
    for change in listed:
        key = (change["article_id"], change["from_version"], change["to_version"])
        assert change["details"] == stored[key], change
    timeline = client.get(f"/api/articles/{filled.rejected}").json()["timeline"]
    rejected = filled.rejected
    assert [t["details"] for t in timeline] == [stored[rejected, None, 1], stored[rejected, 1, 2]]
    assert "number changed: 550 → 548" in stored[rejected, 1, 2]


def test_change_details_are_listed_exactly_as_the_diff_stored_them(
    client: TestClient, filled: Filled
) -> None:
    assert_details_as_stored(client, filled)
