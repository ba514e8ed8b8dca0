"""CommonMark for chat services (apprise converts it to Slack mrkdwn, Telegram, Discord …).

Every value passes :func:`clean.md_escape`: backslash-escaped markup characters, ``&`` where it
would start an entity, mentions broken. ``<``/``>``/``&`` are not entity-escaped here: apprise's
Slack conversion does that itself, and entities would arrive double-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.alerts.render.clean import md_escape
from monitor.alerts.render.view import Message, View, digest_title, register


def lines(item: View) -> list[str]:
    out = [f"**{md_escape(item.title)}**"]
    if item.link:
        out.append(f"<{item.link}>")  # an autolink: safe_link left no '<', '>' or space in it
    out += [f"**{name}:** {md_escape(value)}" for name, value in item.meta]
    if item.why:
        out.append("**Why:**")
        out += [f"• {md_escape(w.topic)}: {md_escape(', '.join(w.evidence))}" for w in item.why]
    elif item.why_line:
        out.append(f"**Why:** {md_escape(item.why_line)}")
    if item.changes:
        kinds = f" ({md_escape(item.kinds)})" if item.kinds else ""
        out.append(f"**What changed**{kinds}:")
        for old, new in item.changes:
            if old:
                out.append(f"• was: {md_escape(old)}")
            if new:
                out.append(f"• now: {md_escape(new)}")
    if item.summary:
        summary = md_escape(item.summary)
        out.append(f"**Summary:** {summary}" if item.is_article else summary)
    return out


def one(item: View) -> Message:
    return Message(md_escape(item.title, title=True), "\n".join(lines(item)))


def digest(items: Sequence[View]) -> Message:
    title = digest_title(items)
    out = [f"**{md_escape(title)}**"]
    out += [f"{n}. {md_escape(item.title)}" for n, item in enumerate(items, start=1)]
    for n, item in enumerate(items, start=1):
        out += ["", f"**{n} of {len(items)}**", *lines(item)]
    return Message(md_escape(title, title=True), "\n".join(out))


register("markdown", one, digest)
