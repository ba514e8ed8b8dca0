"""The alert sinks receive what apprise really sends, and fail the way real receivers fail."""

from __future__ import annotations

import time

import apprise
import pytest
from apprise.plugins.slack import NotifySlack

from tests.support.sinks import SMTPSink, WebhookSink, slack_to, slack_url


def _notify(url: str, body: str = "Body text", title: str = "Title") -> bool:
    ap = apprise.Apprise()
    assert ap.add(url), url
    return bool(ap.notify(body=body, title=title))


# SMTP -----------------------------------------------------------------------------------------


def test_apprise_mail_arrives(smtp_sink: SMTPSink) -> None:
    url = smtp_sink.apprise_url(to="desk@example.org")
    assert url == (
        f"mailto://127.0.0.1:{smtp_sink.port}?from=monitor%40example.org&to=desk%40example.org"
    )
    assert _notify(url, body="Asylum figures halved", title="New article")
    (message,) = smtp_sink.wait_for(1, timeout=5)
    assert message["Subject"] == "New article"
    assert message["From"] == "monitor@example.org" and message["To"] == "desk@example.org"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None and "Asylum figures halved" in text.get_content()
    assert smtp_sink.envelopes[0].rcpt_tos == ["desk@example.org"]


def test_refuse_then_recover(smtp_sink: SMTPSink) -> None:
    smtp_sink.refuse()
    start = time.monotonic()
    assert not _notify(smtp_sink.apprise_url(timeout=60))
    assert time.monotonic() - start < 30  # refused at once, not timed out
    smtp_sink.recover()
    assert _notify(smtp_sink.apprise_url())
    assert len(smtp_sink.wait_for(1)) == 1


def test_hang_blocks_until_the_client_times_out(smtp_sink: SMTPSink) -> None:
    smtp_sink.hang()
    start = time.monotonic()
    assert not _notify(smtp_sink.apprise_url(timeout=0.5))
    assert 0.4 < time.monotonic() - start < 30  # the client's 0.5 s, not the endless hang
    assert smtp_sink.hung == 1 and smtp_sink.messages == []
    smtp_sink.recover()
    assert _notify(smtp_sink.apprise_url(timeout=2))
    assert len(smtp_sink.wait_for(1)) == 1  # the hung message was never accepted


def test_reject_transient_then_accept(smtp_sink: SMTPSink) -> None:
    smtp_sink.reject(451, times=1)
    assert not _notify(smtp_sink.apprise_url())
    assert _notify(smtp_sink.apprise_url())
    assert len(smtp_sink.messages) == 1
    smtp_sink.clear()
    with pytest.raises(TimeoutError):
        smtp_sink.wait_for(1, timeout=0.1)


# Webhooks -------------------------------------------------------------------------------------


def test_json_webhook_arrives(webhook_sink: WebhookSink) -> None:
    url = webhook_sink.json_url("/alerts")
    assert url == f"json://127.0.0.1:{webhook_sink.port}/alerts"
    assert _notify(url, body="Asylum figures halved", title="New article")
    (request,) = webhook_sink.wait_for(1)
    assert request.method == "POST" and request.path == "/alerts"
    assert request.headers["content-type"].startswith("application/json")
    assert request.json["title"] == "New article"
    assert request.json["message"] == "Asylum figures halved"
    assert request.status == 200


def test_webhook_fails_then_recovers(webhook_sink: WebhookSink) -> None:
    webhook_sink.fail(503, times=2)
    results = [_notify(webhook_sink.json_url()) for _ in range(3)]
    assert results == [False, False, True]
    assert [r.status for r in webhook_sink.requests] == [503, 503, 200]
    assert len(webhook_sink.delivered) == 1
    webhook_sink.fail()
    assert not _notify(webhook_sink.json_url())
    webhook_sink.recover()
    assert _notify(webhook_sink.json_url())


def test_webhook_hang_times_out_the_client(webhook_sink: WebhookSink) -> None:
    webhook_sink.hang(60.0)
    start = time.monotonic()
    assert not _notify(webhook_sink.json_url() + "?rto=0.5")
    assert time.monotonic() - start < 30  # the client's 0.5 s, not the 60 s hang
    assert [r.status for r in webhook_sink.requests] == [None]
    webhook_sink.recover()
    assert _notify(webhook_sink.json_url())
    assert len(webhook_sink.wait_for(1)) == 1


def test_slack_to_redirects_the_slack_plugin(webhook_sink: WebhookSink) -> None:
    original = NotifySlack.webhook_url
    with slack_to(webhook_sink):
        assert _notify(slack_url(), body="Asylum figures halved", title="New article")
    assert NotifySlack.webhook_url == original
    (request,) = webhook_sink.wait_for(1)
    assert request.path == "/services/T000/B000/XXXX"
    attachment = request.json["attachments"][0]  # Slack's incoming-webhook format
    assert attachment["title"] == "New article" and attachment["text"] == "Asylum figures halved"
    webhook_sink.fail(500, times=1)
    with slack_to(webhook_sink):
        assert not _notify(slack_url())


def test_sinks_restart_on_the_same_port() -> None:
    with WebhookSink() as sink:
        port = sink.port
        sink.stop()
        sink.start()
        assert sink.port == port and _notify(sink.json_url())


# PostgreSQL -------------------------------------------------------------------------------------


def test_pg_url_fixture_connects(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url.replace("+psycopg", ""), connect_timeout=2) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
