"""Payloads and rendering: every value from the site arrives inert, in every format."""

from __future__ import annotations

import html
import json
import re

from hypothesis import given
from hypothesis import strategies as st

from monitor.alerts.render import inert, md_escape, one_line, render, render_digest, sanitize_html
from tests.alerts.helpers import SCRIPT_TITLE, payload


def test_a_payload_is_plain_json() -> None:
    data = payload(changes=[("old", "new")])
    assert json.loads(json.dumps(data)) == data
    assert data["changes"] == [["old", "new"]]
    assert data["v"] == 2


def test_html_escapes_a_script_headline_in_title_and_body() -> None:
    message = render(payload(title=SCRIPT_TITLE), "html")
    assert message.title.startswith("Article changed: &lt;script&gt;alert(1)&lt;/script&gt;")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.body
    assert "<script" not in message.body.lower() and "<script" not in message.title.lower()


def test_markdown_makes_a_hostile_headline_inert() -> None:
    message = render(payload(title=SCRIPT_TITLE), "markdown")
    first = message.body.splitlines()[0]
    assert first == (
        r"**Article changed: \<script\>alert\(1\)\</script\> Asylum \*deal\* "
        "\\[x\\]\\(javascript:evil\\) \\#1 \\| @\u200ceveryone \\<\u200c\\!here\\>**"
    )


def test_the_markdown_title_escapes_what_could_format_or_link() -> None:
    title = render(payload(title="Rates *up* (again) & <b> [x]"), "markdown").title
    assert title == r"Article changed: Rates \*up\* (again) & \<b\> \[x\]"


def test_markdown_escapes_an_ampersand_only_where_it_would_start_an_entity() -> None:
    assert md_escape("AT&T &lt;b&gt;") == r"AT&T \&lt;b\&gt;"


def test_markdown_links_are_autolinks() -> None:
    body = render(payload(url="https://cphpost.dk/2024/news/a_b/"), "markdown").body
    assert "\n<https://cphpost.dk/2024/news/a_b/>\n" in body


def test_text_strips_control_characters_and_cannot_forge_lines() -> None:
    message = render(payload(title="Asylum\x1b[31m deal\nFAKE: line\u202e"), "text")
    assert message.title == "Article changed: Asylum[31m deal FAKE: line"
    assert "\nFAKE" not in message.body and "\x1b" not in message.body


def test_only_http_links_are_rendered() -> None:
    for fmt in ("html", "markdown", "text"):
        body = render(payload(url="javascript:alert(1)"), fmt).body
        assert "javascript" not in body


def test_link_markup_characters_are_percent_encoded() -> None:
    body = render(payload(url="https://cphpost.dk/a*b_(c)/<x>"), "markdown").body
    assert "https://cphpost.dk/a%2Ab_%28c%29/%3Cx%3E" in body


def test_html_shows_changed_sentences_with_del_and_ins() -> None:
    body = render(payload(changes=[("Ten <i>were</i>.", "Twelve were.")]), "html").body
    assert re.search(
        r"<del[^>]*>Ten &lt;i&gt;were&lt;/i&gt;\.</del> → <ins[^>]*>Twelve were\.</ins>", body
    )


def test_markdown_and_text_show_changed_sentences_old_then_new() -> None:
    md = render(payload(changes=[("Ten.", "Twelve.")]), "markdown").body
    text = render(payload(changes=[("Ten.", "Twelve.")]), "text").body
    assert "• was: Ten.\n• now: Twelve." in md
    assert "  ~ [-Ten-]{+Twelve+}." in text


def test_the_diff_html_appears_only_in_html() -> None:
    data = payload(diff_html="<p><del>Ten</del> <ins>Twelve</ins></p>")
    assert "<del" in render(data, "html").body and "Word-level diff" in render(data, "html").body
    assert "Word-level diff" not in render(data, "markdown").body
    assert "Word-level diff" not in render(data, "text").body


def test_the_diff_html_keeps_plain_tags_and_escapes_everything_else() -> None:
    dirty = (
        '<p class="x" onclick="evil()">a <ins>b</ins><script>x()</script><img src=x onerror=y></p>'
    )
    clean = sanitize_html(dirty)
    assert clean.startswith("<p>a <ins ")
    assert "&lt;script&gt;x()&lt;/script&gt;" in clean
    assert "<img" not in clean and "onclick" not in clean


def test_topics_evidence_section_and_published_time_are_shown() -> None:
    body = render(payload(), "text").body
    assert "Section: news" in body
    assert "Published: 2024-05-01 08:00 UTC" in body
    assert "Topics: asylum" in body
    assert "Why: asylum: “asylum seekers”, “reception centre”" in body


def test_no_format_shows_an_idempotency_key_to_readers() -> None:
    for fmt in ("html", "markdown", "text"):
        assert "idempotency" not in render(payload(), fmt).body


def test_ops_alerts_use_their_own_title() -> None:
    data = payload(kind="ops_failure", title="cphpost-monitor: https://cphpost.dk is failing")
    assert render(data, "text").title == "cphpost-monitor: https://cphpost.dk is failing"


def test_a_digest_is_one_message_with_every_title() -> None:
    titles = ["Asylum deal struck", "Deportations rise", "New <b>citizenship</b> test"]
    payloads = [payload(title=t) for t in titles]
    for fmt in ("html", "markdown", "text"):
        message = render_digest(payloads, fmt)
        assert message.title.startswith("cphpost-monitor: 3 alerts")
        for title in titles[:2]:
            assert title in message.body
    assert "New &lt;b&gt;citizenship&lt;/b&gt; test" in render_digest(payloads, "html").body


def _unescape_md(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("\u200c", "")


@given(st.text())
def test_markdown_escaping_is_lossless_and_leaves_no_active_character(text: str) -> None:
    escaped = md_escape(text)
    assert _unescape_md(escaped) == one_line(text)
    unescaped = re.sub(r"\\.", "", escaped)
    assert not set(unescaped) & set("*_[]()#!|~`<>\\")
    assert not re.search(r"(?<!\\)&#?[A-Za-z0-9]+;", escaped)  # no live entity


@given(st.text())
def test_html_rendering_never_lets_a_tag_through(text: str) -> None:
    body = render(payload(title=text, evidence=text, changes=[(text, text)]), "html").body
    assert html.escape(inert(one_line(text))) in body or not one_line(text)
    stripped = re.sub(r"</?(p|strong|h2|h3|a|ul|li|ins|del|div|small)\b[^>]*>", "", body)
    assert "<" not in stripped
