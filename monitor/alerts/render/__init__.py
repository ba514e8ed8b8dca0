"""Alert payloads and their rendering as HTML, markdown or plain text (pure functions).

The payload (``payload.build_payload``) is what the outbox stores: plain JSON values, so an
alert can be rendered again for any target long after the objects that produced it are gone.
Everything in it comes from the site and is untrusted: ``view`` reads it into one-line, inert
values (controls stripped, chat mentions broken), and each format module escapes for its own
syntax, so a headline such as ``<script>alert(1)</script> *boom* [x](javascript:…) <!here>``
arrives as inert text everywhere. Links are only ever ``http(s)`` URLs, percent-encoded.

Formats register themselves (``as_text``, ``as_markdown``, ``as_html``); the idempotency key is
never part of the text: the sender puts it in a header or a JSON field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitor.alerts.render import as_html, as_markdown, as_text  # noqa: F401 (they register)
from monitor.alerts.render.clean import (
    DEL_OPEN,
    INS_OPEN,
    inert,
    md_escape,
    one_line,
    safe_link,
    sanitize_html,
    strip_controls,
)
from monitor.alerts.render.payload import (
    DIGEST_CHANGES,
    MAX_CHANGES,
    MAX_FIELD,
    MAX_TITLE,
    PAYLOAD_VERSION,
    EvidenceLike,
    build_payload,
    why_by_topic,
)
from monitor.alerts.render.view import LABELS, RENDERERS, Format, Message, View, label, view

FORMATS: tuple[Format, ...] = ("html", "markdown", "text")

__all__ = [
    "DEL_OPEN",
    "DIGEST_CHANGES",
    "FORMATS",
    "INS_OPEN",
    "LABELS",
    "MAX_CHANGES",
    "MAX_FIELD",
    "MAX_TITLE",
    "PAYLOAD_VERSION",
    "EvidenceLike",
    "Format",
    "Message",
    "View",
    "build_payload",
    "inert",
    "label",
    "md_escape",
    "one_line",
    "render",
    "render_digest",
    "safe_link",
    "sanitize_html",
    "strip_controls",
    "view",
    "why_by_topic",
]


def render(payload: Mapping[str, Any], fmt: Format) -> Message:
    """One alert as a message in ``fmt``."""
    if fmt not in RENDERERS:
        raise ValueError(f"unknown format {fmt!r}")
    return RENDERERS[fmt].one(view(payload, MAX_CHANGES))


def render_digest(payloads: Sequence[Mapping[str, Any]], fmt: Format) -> Message:
    """Several alerts as one message: a numbered list of titles, then a section per alert."""
    if fmt not in RENDERERS:
        raise ValueError(f"unknown format {fmt!r}")
    if len(payloads) == 1:
        return render(payloads[0], fmt)
    return RENDERERS[fmt].digest([view(p, DIGEST_CHANGES) for p in payloads])
