"""HTML for e-mail: a linked headline, labelled fields, struck-through old text beside new.

Every value passes :func:`html.escape`; the word-level diff (already escaped by
``monitor.diff``) also passes :func:`clean.sanitize_html`'s allowlist. Styles are inline: mail
clients drop ``<style>`` blocks.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from monitor.alerts.render.clean import DEL_OPEN, INS_OPEN, sanitize_html
from monitor.alerts.render.view import Message, View, digest_title, register

esc = html.escape


def section(item: View) -> str:
    out = [f"<p><strong>{esc(item.label)}</strong></p>"]
    heading = (
        f'<a href="{esc(item.link)}">{esc(item.headline)}</a>' if item.link else esc(item.headline)
    )
    out.append(f'<h2 style="margin:0.2em 0">{heading}</h2>')
    for name, value in item.meta:
        out.append(f"<p><strong>{esc(name)}:</strong> {esc(value)}</p>")
    if item.why:
        out.append("<p><strong>Why:</strong></p>")
        out.append("<ul>")
        out += [f"<li>{esc(w.topic)}: {esc(', '.join(w.evidence))}</li>" for w in item.why]
        out.append("</ul>")
    elif item.why_line:
        out.append(f"<p><strong>Why:</strong> {esc(item.why_line)}</p>")
    if item.changes:
        note = f" <small>({esc(item.kinds)})</small>" if item.kinds else ""
        out.append(f"<h3>What changed{note}</h3>")
        out.append("<ul>")
        for old, new in item.changes:
            parts = []
            if old:
                parts.append(f"{DEL_OPEN}{esc(old)}</del>")
            if new:
                parts.append(f"{INS_OPEN}{esc(new)}</ins>")
            out.append(f"<li>{' → '.join(parts)}</li>")
        out.append("</ul>")
    if item.diff_html.strip():
        out.append("<h3>Word-level diff</h3>")
        out.append(sanitize_html(item.diff_html))
    if item.summary:
        label = "<strong>Summary:</strong> " if item.is_article else ""
        out.append(f"<p>{label}{esc(item.summary)}</p>")
    return "\n".join(out)


def one(item: View) -> Message:
    return Message(esc(item.title), section(item))


def digest(items: Sequence[View]) -> Message:
    title = digest_title(items)
    out = [f"<p><strong>{esc(title)}</strong></p>", "<ol>"]
    for item in items:
        text = esc(item.title)
        out.append(
            f'<li><a href="{esc(item.link)}">{text}</a></li>' if item.link else f"<li>{text}</li>"
        )
    out.append("</ol>")
    for item in items:
        out += ["<hr>", section(item)]
    return Message(esc(title), "\n".join(out))


register("html", one, digest)
