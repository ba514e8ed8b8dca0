"""Plain text: webhooks, e-mail's text/plain part, anything without markup.

One field per line (a field cannot forge a line: ``view`` folded it), a replaced span shown
wdiff-style as ``[-old-]{+new+}``, and the article URL on the second line.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.alerts.render.view import Message, View, digest_title, register
from monitor.diff.render import render_words_text


def lines(item: View) -> list[str]:
    out = [item.title]
    if item.link:
        out.append(item.link)
    out += [f"{name}: {value}" for name, value in item.meta]
    if item.why:
        out.append("Why:")
        out += [f"  {w.topic}: {', '.join(w.evidence)}" for w in item.why]
    elif item.why_line:
        out.append(f"Why: {item.why_line}")
    if item.changes:
        out.append(f"What changed ({item.kinds}):" if item.kinds else "What changed:")
        for old, new in item.changes:
            if old and new:
                out.append(f"  ~ {render_words_text(old, new)}")
            elif old:
                out.append(f"  - removed: {old}")
            else:
                out.append(f"  + added: {new}")
    if item.summary:
        out.append(f"Summary: {item.summary}" if item.is_article else item.summary)
    return out


def one(item: View) -> Message:
    return Message(item.title, "\n".join(lines(item)))


def digest(items: Sequence[View]) -> Message:
    title = digest_title(items)
    out = [title, ""]
    out += [f"{n}. {item.title}" for n, item in enumerate(items, start=1)]
    for n, item in enumerate(items, start=1):
        out += ["", f"--- {n} of {len(items)} ---", *lines(item)]
    return Message(title, "\n".join(out))


register("text", one, digest)
