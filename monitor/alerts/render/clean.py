"""Making untrusted article text inert: controls, mentions, markdown, HTML and links.

Everything in a payload comes from the site. Each function here turns one kind of untrusted
value into text that shows as itself in one target format and can do nothing else: forge a
line, open a tag, format, link, or ping a chat channel.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

# C0/C1 controls (tab and newline kept), zero-width space, direction marks/overrides/isolates, BOM
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SPACE = re.compile(r"\s+")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]()#!|~<>])")
_MD_TITLE_SPECIAL = re.compile(r"([\\`*_\[\]~<>])")
_ENTITY_START = re.compile(r"&(?=#?[A-Za-z0-9]+;)")
# Chat mention syntax: "@here", "@channel", "@everyone", "@all", "@username" (Slack, Mattermost,
# Discord, Teams, Rocket.Chat), and Slack's "<!here>", "<@U123>", "<#C123>", "<!subteam^S1>".
_AT_MENTION = re.compile(r"(?<![\w@.])@(?=\w)")
_ANGLE_MENTION = re.compile(r"(<|&lt;)(?=[!@#])")  # raw, or as escaped HTML
ZWNJ = "\u200c"  # zero-width non-joiner: invisible, and no chat parser sees a mention through it


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", text)


def one_line(text: str) -> str:
    """Controls stripped and all whitespace (newlines too) folded: a field can't forge a line."""
    return _SPACE.sub(" ", strip_controls(str(text))).strip()


def inert(text: str) -> str:
    """``text`` with every chat mention broken by an invisible joiner; idempotent.

    A relay that posts a webhook's ``message`` to Slack or Mattermost would otherwise ping a
    whole channel for a headline such as ``Minister to @here: <!channel>``. E-mail addresses
    (``a@b.dk``) are left alone: their ``@`` follows a word character.
    """
    text = _ANGLE_MENTION.sub(r"\1" + ZWNJ, text)
    return _AT_MENTION.sub("@" + ZWNJ, text)


def md_escape(text: str, *, title: bool = False) -> str:
    """One line of untrusted text as inert CommonMark: every character shows as itself."""
    text = one_line(text)
    text = (_MD_TITLE_SPECIAL if title else _MD_SPECIAL).sub(r"\\\1", text)
    text = _ENTITY_START.sub(r"\\&", text)
    return inert(text)


def safe_link(url: str) -> str:
    """An http(s) URL with every markup character percent-encoded, else ``""``."""
    url = one_line(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return quote(url, safe=":/?#=&%+,;@-._~")


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)\b[^<>]*>")
_ALLOWED_TAGS = frozenset(
    {"div", "p", "br", "span", "ins", "del", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em",
     "b", "i", "small", "blockquote"}
)  # fmt: skip
_BARE_AMP = re.compile(r"&(?!(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#x[0-9A-Fa-f]{1,6});)")
INS_OPEN = '<ins style="background:#e6ffec;text-decoration:none">'
DEL_OPEN = '<del style="background:#ffebe9">'


def sanitize_html(fragment: str) -> str:
    """Keep only plain allowlisted tags (attributes dropped); escape everything else."""

    def text(chunk: str) -> str:
        chunk = strip_controls(chunk).replace("<", "&lt;").replace(">", "&gt;")
        return _BARE_AMP.sub("&amp;", chunk)

    out: list[str] = []
    pos = 0
    for match in _TAG.finditer(fragment):
        out.append(inert(text(fragment[pos : match.start()])))
        closing, name = match.group(1), match.group(2).lower()
        if name not in _ALLOWED_TAGS:
            out.append(html.escape(match.group(0)))
        elif name == "br":
            out.append("<br>")
        elif name == "ins" and not closing:
            out.append(INS_OPEN)
        elif name == "del" and not closing:
            out.append(DEL_OPEN)
        else:
            out.append(f"<{closing}{name}>")
        pos = match.end()
    out.append(inert(text(fragment[pos:])))
    return "".join(out)
