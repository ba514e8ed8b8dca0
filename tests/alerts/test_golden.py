"""Golden files: what each format of each kind of alert looks like, byte for byte.

Regenerate after an intended change with ``CPHMON_REGEN_GOLDEN=1 .venv/bin/pytest
tests/alerts/test_golden.py -p no:cacheprovider`` and review the diff of
``tests/fixtures/golden/alerts/`` before committing it.
"""

from __future__ import annotations

import json
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from monitor.alerts.deliver import deliver_due
from monitor.alerts.render import render, render_digest
from monitor.alerts.targets import load_targets
from tests.alerts.conftest import T0, HTTPReceiver, SettingsFactory, slack_url
from tests.alerts.helpers import add_alert, payload
from tests.alerts.test_readable import EVIDENCE

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "alerts"
REGEN = os.environ.get("CPHMON_REGEN_GOLDEN") == "1"
URL = "https://cphpost.dk/2024-05-01/news/asylum-figures/"
COMMON: dict[str, Any] = {
    "url": URL,
    "topics": ["immigration_statistics", "asylum"],
    "why": EVIDENCE,
}

CASES: dict[str, dict[str, Any]] = {
    "new": {
        "kind": "new", "title": "Asylum applications fall to a 15-year low",
        "changes": [], "diff_html": None, "change_kinds": ["new"], "detail": "new article",
    },
    "headline": {
        "kind": "changed",
        "title": "Rejected asylum-seekers earmarked for deportation halved in two years",
        "changes": [(
            "Number of rejected asylum-seekers earmarked for deportation halved in two years",
            "Rejected asylum-seekers earmarked for deportation halved in two years",
        )],
        "diff_html": "<div><h2><del>Number of rejected</del><ins>Rejected</ins> asylum-seekers"
        " earmarked for deportation halved in two years</h2></div>",
        "change_kinds": ["headline"],
        "detail": "headline changed: 'Number of rejected asylum-seekers earmarked for deportation"
        " halved in two years' → 'Rejected asylum-seekers earmarked for deportation halved in"
        " two years'",
    },
    "body": {
        "kind": "changed", "title": "Asylum applications fall to a 15-year low",
        "changes": [
            ("There are 550 rejected asylum-seekers at departure centres.",
             "There are 548 rejected asylum-seekers at departure centres."),
            ("", "“We expect the figure to fall further,” said the minister."),
        ],
        "diff_html": "<div><p>There are <del>550</del><ins>548</ins> rejected asylum-seekers at"
        " departure centres.</p><p><ins>“We expect the figure to fall further,” said the"
        " minister.</ins></p></div>",
        "change_kinds": ["body"],
        "detail": "number changed: 550 → 548; quote added",
    },
    "paywall": {
        "kind": "paywall", "title": "Asylum applications fall to a 15-year low",
        "changes": [], "diff_html": "<div><p>Paywall: free → premium; the body is not"
        " compared.</p></div>", "change_kinds": ["paywall"], "detail": "free → premium",
    },
    "deleted": {
        "kind": "deleted", "title": "Asylum applications fall to a 15-year low",
        "changes": [], "diff_html": None, "change_kinds": ["deleted"],
        "detail": "article deleted (404/410 confirmed)",
    },
}  # fmt: skip
EXT = {"text": "txt", "markdown": "md", "html": "html"}


def check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.read_text(encoding="utf-8") == actual, f"{path} differs (see module docstring)"


def _payloads() -> dict[str, list[dict[str, Any]]]:
    out = {name: [payload(**COMMON, **case)] for name, case in CASES.items()}
    out["digest"] = [payload(**COMMON, **CASES[n]) for n in ("new", "body", "deleted")]
    return out


@pytest.mark.parametrize("case", [*CASES, "digest"])
@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_each_format_of_each_alert_matches_its_golden_file(case: str, fmt: Any) -> None:
    items = _payloads()[case]
    message = render_digest(items, fmt) if len(items) > 1 else render(items[0], fmt)
    check(f"{case}.{EXT[fmt]}", f"{message.title}\n\n{message.body}\n")


_PORT = re.compile(r"127\.0\.0\.1:\d+")


@pytest.mark.parametrize("case", [*CASES, "digest"])
def test_what_a_json_webhook_and_slack_receive_matches_the_golden_files(
    case: str,
    engine: Engine,
    make_settings: SettingsFactory,
    slack: HTTPReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one local server plays the JSON webhook and Slack; a 1 h digest makes a digest one message
    s = make_settings(notify_urls=f"{slack.url()}?digest=1h {slack_url()}?digest=1h")
    for n, item in enumerate(_payloads()[case]):
        fields = {k: v for k, v in item.items() if k != "v"}
        fields["changes"] = [tuple(c) for c in fields["changes"]]
        add_alert(engine, load_targets(s), T0, key=f"change:{n}", **{**fields, "why": EVIDENCE})
    assert deliver_due(engine, s, owner="w", now=T0 + timedelta(hours=1)).sent
    for request in slack.requests:
        document = request.json()
        document.pop("idempotency_key", None)
        for block in document.get("attachments", []):
            block.pop("ts", None)
        which = "slack" if request.path.startswith("/services") else "webhook"
        check(
            f"{case}.{which}.json",
            _PORT.sub("127.0.0.1:PORT", json.dumps(document, ensure_ascii=False, indent=2)) + "\n",
        )
