"""Hostile or mistaken input: bad settings and arguments give one error line and exit code 2;
hostile article text arrives inert in mail, markdown and Slack; no notify-URL secret is logged.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Monitor
from tests.e2e.test_faults_common import CORRECTED, installation
from tests.support.replay import ReplaySite
from tests.support.sinks import SMTPSink, WebhookSink

# Bad values --------------------------------------------------------------------------------------

RULES_WITH_UNKNOWN_TOPIC = '[topics.asylm]\nterms = ["asylum"]\n'

# name: (settings as environment variables, command line, what the one error line must say)
BAD_INPUT: dict[str, tuple[dict[str, str], list[str], str]] = {
    "site-url-without-scheme": ({"SITE_URL": "cphpost.dk"}, ["run", "--once"], "CPHMON_SITE_URL"),
    "database-url-of-unknown-kind": (
        {"DATABASE_URL": "mysql://monitor@localhost/monitor"},
        ["status"],
        "CPHMON_DATABASE_URL",
    ),
    "database-driver-unknown": (
        {"DATABASE_URL": "postgresql+nosuchdriver://monitor@127.0.0.1/monitor"},
        ["status"],
        "driver",
    ),
    "duration-in-words": ({"POLL_INTERVAL": "ten minutes"}, ["run", "--once"], "not a duration"),
    "schedule-step-without-interval": (
        {"RECHECK_SCHEDULE": "3h:15m,1d"},
        ["run", "--once"],
        "CPHMON_RECHECK_SCHEDULE",
    ),
    "notify-url-not-a-url": (
        {"NOTIFY_URLS": "alerts-at-example-org"},
        ["run", "--once"],
        "entry 1",
    ),
    "config-file-missing": ({}, ["--config", "{tmp}/missing.toml", "status"], "does not exist"),
    "config-file-unreadable": ({}, ["--config", "{tmp}", "status"], "cannot be read"),
    "config-file-not-toml": ({}, ["--config", "{tmp}/broken.toml", "status"], "not valid TOML"),
    "config-file-unknown-setting": (
        {},
        ["--config", "{tmp}/unknown.toml", "status"],
        "unknown setting",
    ),
    "classifier-rules-unknown-topic": (
        {"CLASSIFIER_RULES": "{tmp}/rules.toml"},
        ["run", "--once"],
        "unknown topic",
    ),
    "backfill-impossible-date": ({}, ["backfill", "--since", "2024-13-45"], "not a date"),
    "check-off-site-url": ({}, ["check", "https://example.org/2024-01-01/news/x/"], "not on"),
    "diff-version-not-a-number": (
        {},
        ["diff", "{site}/2099-01-01/news/x/", "--from", "two"],
        "--from",
    ),
}


UNKNOWN_TOPIC_TAG = "notify-url-tagged-with-unknown-topic"  # "asylum", misspelt


@pytest.fixture(scope="module")
def bad_input_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    """Every bad-input command, run a few at a time (each is an independent process)."""
    root = tmp_path_factory.mktemp("bad-input")
    (root / "broken.toml").write_text("rate_limit = [\n")
    (root / "unknown.toml").write_text("rate_limt = 1\n")
    (root / "rules.toml").write_text(RULES_WITH_UNKNOWN_TOPIC)
    cases = dict(BAD_INPUT)
    cases[UNKNOWN_TOPIC_TAG] = (
        {"NOTIFY_URLS": "asylm=json://127.0.0.1:9/hook"},
        ["run", "--once"],
        "asylm",
    )
    with ReplaySite() as site:
        shared = installation(root / "store", tmp_path_factory, site, ran=False)
        fill = {"tmp": str(root), "site": site.origin}

        def run(name: str) -> subprocess.CompletedProcess[str]:
            env, args, _says = cases[name]
            mon = Monitor(root / name, site.origin, database_url=shared.database_url)
            mon.set(**{k: v.format(**fill) for k, v in env.items()})
            return mon.cli(*[a.format(**fill) for a in args], timeout=60)

        with ThreadPoolExecutor(max_workers=3) as pool:
            yield dict(zip(cases, pool.map(run, cases), strict=True))


@pytest.mark.parametrize("name", list(BAD_INPUT))
def test_bad_input_gives_one_error_line_and_exit_code_2(
    bad_input_results: dict[str, subprocess.CompletedProcess[str]], name: str
) -> None:
    result = bad_input_results[name]
    _assert_one_error_line(result.returncode, result.stdout, result.stderr, BAD_INPUT[name][2])


def test_a_notify_url_tagged_with_an_unknown_topic_is_refused(
    bad_input_results: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    result = bad_input_results[UNKNOWN_TOPIC_TAG]
    _assert_one_error_line(result.returncode, result.stdout, result.stderr, "asylm")


def _assert_one_error_line(code: int, stdout: str, stderr: str, says: str) -> None:
    output = stdout + stderr
    assert "Traceback" not in output, output
    assert code == 2, output
    errors = [line for line in stderr.splitlines() if re.match(r"^\s*(error|Error)\b", line)]
    assert len(errors) == 1, stderr
    assert says in errors[0], stderr
    # Besides the error line only click's usage hint may appear ("Usage: …", "Try … -h").
    others = [
        line
        for line in stderr.splitlines()
        if line.strip() and line not in errors and not line.startswith(("Usage:", "Try "))
    ]
    assert others == [], stderr


# Hostile article text ----------------------------------------------------------------------------

HOSTILE_PATH = "/2022-10-31/news/more-non-western-foreigners-finding-work/"
HOSTILE_TITLE = (
    "Asylum seekers <script>alert(1)</script> *bold* _it_ [click](javascript:alert(1)) "
    "<!channel> @everyone \u202eevil\u200b`code`"
)
HOSTILE_PARAGRAPH = (
    '<img src=x onerror=alert(2)> ![pic](http://evil.example/x.png) <a href="javascript:alert(3)">'
    "link</a> # heading | cell | \x07\x1b[31mred\x1b[0m &amp;copy; "
    "The asylum figures were revised. Bcc: victim@example.org"
)
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u202a-\u202e\u2066-\u2069]")
SLACK_SHIM = '''"""Test only: apprise's Slack plugin posts to a local sink (E2E_SLACK_ORIGIN)."""
import os

if os.environ.get("E2E_SLACK_ORIGIN"):
    from apprise.plugins.slack import NotifySlack

    NotifySlack.webhook_url = os.environ["E2E_SLACK_ORIGIN"] + "/services"
'''


def _hostile(html: str) -> str:
    import html as html_lib

    html = html.replace("More non-western foreigners finding work", html_lib.escape(HOSTILE_TITLE))
    return re.sub(
        r'(<div class="entry-content">\n)',
        lambda m: m.group(1) + "<p>" + html_lib.escape(HOSTILE_PARAGRAPH) + "</p>\n",
        html,
        count=1,
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.fixture
def hostile_alert(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    replay_site: ReplaySite,
    smtp_sink: SMTPSink,
    webhook_sink: WebhookSink,
) -> Iterator[Monitor]:
    """One "changed" alert whose headline and new paragraph are hostile, sent to three targets:
    mail (HTML), a webhook in markdown (what Slack-like services get), and apprise's Slack plugin
    in the daemon process, re-pointed at the webhook sink by a test-only ``sitecustomize``."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SLACK_SHIM)
    mon = installation(
        tmp_path / "install",
        tmp_path_factory,
        replay_site,
        notify_urls=" ".join(
            [
                smtp_sink.apprise_url(),
                webhook_sink.json_url("/markdown") + "?format=markdown",
                "slack://T000AAAA/B000BBBB/XXXXCCCCXXXXCCCCXXXXCCCC",
            ]
        ),
    )
    mon.env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), mon.env.get("PYTHONPATH")]))
    mon.env["E2E_SLACK_ORIGIN"] = webhook_sink.origin
    replay_site.edit(HOSTILE_PATH, _hostile)
    mon.run_once()
    assert [a.kind for a in mon.alerts() if a.kind != "new"] == ["changed"]
    yield mon
    mon.close()


def test_hostile_article_text_arrives_inert_in_the_mail(
    hostile_alert: Monitor, smtp_sink: SMTPSink
) -> None:
    (message,) = smtp_sink.messages
    assert isinstance(message, EmailMessage)
    subject = str(message["Subject"])
    assert "Asylum seekers" in subject and "\n" not in subject and not CONTROL.search(subject)
    assert [e.rcpt_tos for e in smtp_sink.envelopes] == [["alerts@example.org"]]
    assert message["Bcc"] is None
    part = message.get_body(("html",))
    assert part is not None
    html = part.get_content()
    assert "&lt;script&gt;" in html  # shown as text …
    tags = re.findall(r"<[a-zA-Z][^>]*>", html)  # … never as markup:
    assert not [t for t in tags if re.match(r"<(script|img|iframe|object)\b", t, re.I)]
    assert not [t for t in tags if re.search(r"\son\w+\s*=|javascript:", t, re.I)]
    assert not CONTROL.search(html)


def test_hostile_article_text_arrives_inert_in_markdown(
    hostile_alert: Monitor, webhook_sink: WebhookSink
) -> None:
    (request,) = [r for r in webhook_sink.delivered if r.path == "/markdown"]
    text = "\n".join(_strings(request.json))
    assert "alert(1)" in text  # the text is there …
    for live in ("<script>", "[click](javascript", "![pic](", "<!channel>", "@everyone"):
        assert live not in text  # … but no markup, link, image or mention survives
    assert not CONTROL.search(text)


def test_hostile_article_text_arrives_inert_in_slack(
    hostile_alert: Monitor, webhook_sink: WebhookSink
) -> None:
    (request,) = [r for r in webhook_sink.delivered if r.path.startswith("/services/")]
    text = "\n".join(_strings(request.json))
    assert "alert(1)" in text
    for live in ("<script", "<!channel>", "<!everyone>", "<!here>", "<javascript:", "@everyone"):
        assert live not in text  # Slack would turn these into markup, links or pings
    assert not re.search(r"<(?!https?://)[^>]*\|", text)  # no <target|label> link of ours
    assert not CONTROL.search(text)


# Secrets -----------------------------------------------------------------------------------------

SECRETS = ("S3cretHookPass", "T0kenInThePath", "QueryT0ken99", "MailPassw0rd")


def test_no_notify_url_secret_reaches_a_log_line_or_the_database(
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    replay_site: ReplaySite,
    smtp_sink: SMTPSink,
    webhook_sink: WebhookSink,
) -> None:
    webhook_sink.fail(500)  # failures are where URLs tend to leak: error messages, retries
    hook = (
        f"json://hookuser:{SECRETS[0]}@127.0.0.1:{webhook_sink.port}/hook/{SECRETS[1]}"
        f"?:token={SECRETS[2]}"
    )
    mail = (
        f"mailto://mailuser:{SECRETS[3]}@127.0.0.1:{smtp_sink.port}"
        "?from=monitor@example.org&to=alerts@example.org"
    )  # the sink offers no AUTH: every send fails
    mon = installation(
        tmp_path, tmp_path_factory, replay_site, notify_urls=f"{hook} {mail}", log_level="DEBUG"
    )
    replay_site.use_version(CORRECTED)
    outputs = [mon.run_once()]
    outputs.append(mon.cli("alerts", "test"))
    outputs.append(mon.cli("alerts", "list", "--json"))  # stored errors, as the CLI shows them
    outputs.append(mon.cli("status"))
    daemon_log = mon.log()
    text = "\n".join(o.stdout + o.stderr for o in outputs) + daemon_log
    assert re.search(r"WARNING +monitor\.alerts: .*fail", text)  # the failures were logged …
    assert webhook_sink.requests  # … after real attempts
    assert all(d.last_error for d in mon.deliveries() if d.status != "sent")
    with mon.db() as db:
        stored = "\n".join(
            str(row)
            for row in db.connection().exec_driver_sql(
                "SELECT target, coalesce(last_error, '') FROM delivery "
                "UNION ALL SELECT payload, '' FROM alert"
            )
        )
    for secret in SECRETS:
        assert secret not in text, f"{secret} in command output or logs"
        assert secret not in stored, f"{secret} in the database"
    assert json.dumps(SECRETS[0]) not in text
