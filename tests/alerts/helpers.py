"""Small builders shared by the alert tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from monitor.alerts.outbox import enqueue
from monitor.alerts.render import build_payload
from monitor.alerts.targets import Target
from monitor.db import session
from monitor.models import Alert, Delivery

SCRIPT_TITLE = "<script>alert(1)</script> Asylum *deal* [x](javascript:evil) #1 | @everyone <!here>"


def payload(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": "changed",
        "url": "https://cphpost.dk/2024-05-01/news/asylum-deal-struck/",
        "title": "Asylum deal struck",
        "section": "news",
        "published": "2024-05-01T10:00:00+02:00",
        "topics": ["asylum"],
        "evidence": "asylum: “asylum seekers”, “reception centre”",
        "changes": [("Ten people were deported.", "Twelve people were deported.")],
        "diff_html": "<div><p><del>Ten</del> <ins>Twelve</ins> people were deported.</p></div>",
        "change_kinds": ["body"],
        "detail": "",
    }
    values.update(overrides)
    return build_payload(**values)


def add_alert(
    engine: Engine,
    targets: Sequence[Target],
    now: datetime,
    *,
    key: str = "change:1",
    kind: str = "changed",
    topics: Sequence[str] = ("asylum",),
    ops_tag: str = "ops",
    **payload_overrides: Any,
) -> int:
    """Enqueue one alert in its own transaction; returns its id."""
    with session(engine) as db:
        alert = enqueue(
            db,
            targets,
            kind=kind,
            dedupe_key=key,
            payload=payload(kind=kind, topics=list(topics), **payload_overrides),
            topics=list(topics),
            article_id=None,
            change_id=None,
            now=now,
            ops_tag=ops_tag,
        )
        assert alert is not None and alert.id is not None
        return alert.id


def deliveries(engine: Engine) -> list[Delivery]:
    with session(engine) as db:
        return list(db.exec(select(Delivery).order_by(col(Delivery.id))).all())


def alerts(engine: Engine) -> list[Alert]:
    with session(engine) as db:
        return list(db.exec(select(Alert).order_by(col(Alert.id))).all())
