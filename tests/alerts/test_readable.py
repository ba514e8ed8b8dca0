"""Alerts read well everywhere: evidence per topic, no key in the text, no mention that pings."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from monitor.alerts.deliver import deliver_due
from monitor.alerts.render import build_payload, render, render_digest
from monitor.alerts.targets import load_targets
from tests.alerts.conftest import T0, HTTPReceiver, SettingsFactory, slack_url
from tests.alerts.helpers import add_alert, payload

HOSTILE = [
    "Minister tells <!channel> asylum rules change",
    "New rules @here and @channel from Monday",
    "Deportations: <@U123ABC> and <!subteam^S01> responsible",
    "Citizenship test @everyone fails <#C0123|general>",
]
# What a chat service would act on: Slack's special syntax and bare @-mentions.
PINGS = re.compile(r"<[!@#]|(?<![\w@.])@\w")


@dataclass(frozen=True)
class Ev:
    topic: str
    term: str
    field: str
    count: int
    weight: float


EVIDENCE = (
    Ev("asylum", "asylum seekers", "body", 3, 3.0),
    Ev("immigration_statistics", "net migration", "title", 1, 4.0),
    Ev("asylum", "reception centre", "title", 1, 2.5),
    Ev("labour", "work permit", "body", 1, 1.0),  # not a listed topic
    Ev("immigration_statistics", "figures", "body", 2, 0.5),
)


def test_each_listed_topic_shows_its_own_evidence_strongest_first_in_words() -> None:
    data = payload(topics=["immigration_statistics", "asylum"], why=EVIDENCE)
    body = render(data, "text").body
    assert "Topics: immigration statistics, asylum" in body
    assert (
        "Why:\n"
        "  immigration statistics: “net migration” in the headline, “figures” ×2 in the body\n"
        "  asylum: “asylum seekers” ×3 in the body, “reception centre” in the headline\n"
    ) in body
    assert "work permit" not in body


def test_a_version_1_payload_still_renders_its_evidence_line() -> None:
    data = payload()
    del data["why"]
    data["v"] = 1
    assert "Why: asylum: “asylum seekers”, “reception centre”" in render(data, "text").body


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_headlines_cannot_ping_in_any_format(title: str) -> None:
    data = payload(title=title, detail=title, changes=[(title, title + " (updated)")])
    for fmt in ("html", "markdown", "text"):
        for message in (render(data, fmt), render_digest([data, data], fmt)):
            assert not PINGS.search(message.title + "\n" + message.body.replace("&lt;", "<"))


def test_hostile_headlines_reach_a_json_webhook_and_slack_inert(
    engine: Engine, make_settings: SettingsFactory, slack: HTTPReceiver
) -> None:
    webhook = slack  # one local server plays the JSON webhook and Slack's endpoint
    s = make_settings(notify_urls=f"{webhook.url()} {slack_url()}")
    for n, title in enumerate(HOSTILE):
        add_alert(engine, load_targets(s), T0, key=f"change:{n}", title=title)
    assert deliver_due(engine, s, owner="w", now=T0).sent == 2 * len(HOSTILE)
    assert len(webhook.requests) == 2 * len(HOSTILE)
    for request in webhook.requests:
        document = request.json()
        text = json.dumps(document, ensure_ascii=False)
        if request.path.startswith("/services"):  # Slack: & < > arrive entity-escaped
            assert not PINGS.search(text.replace("&lt;", "<"))
        else:
            assert not PINGS.search(document["title"] + document["message"])


def test_a_digest_numbers_its_alerts_and_lists_them_first() -> None:
    items = [payload(title="Asylum deal struck"), payload(kind="new", title="Visa rules")]
    body = render_digest(items, "text").body.splitlines()
    assert body[:4] == [
        "cphpost-monitor: 2 alerts (1 article changed, 1 new article)",
        "",
        "1. Article changed: Asylum deal struck",
        "2. New article: Visa rules",
    ]
    assert "--- 2 of 2 ---" in body


def test_build_payload_keeps_why_as_plain_json() -> None:
    data = build_payload(
        kind="new", url="https://cphpost.dk/a", title="t", section="news", published=None,
        topics=["asylum"], evidence="", changes=[], diff_html=None, change_kinds=[],
        why=EVIDENCE,
    )  # fmt: skip
    assert data["why"] == [
        {
            "topic": "asylum",
            "evidence": [
                {"term": "asylum seekers", "field": "body", "count": 3},
                {"term": "reception centre", "field": "title", "count": 1},
            ],
        }
    ]
