"""Reading the headers of an answer: charset, allowed content types, Retry-After, max-age."""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

from monitor.fetch.result import Accept

ACCEPT_HEADERS = {
    "html": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "xml": "application/rss+xml,application/xml,text/xml;q=0.9,*/*;q=0.1",
    "text": "text/plain,*/*;q=0.1",
}
ALLOWED_TYPES = {
    "html": ("text/html", "application/xhtml+xml"),
    "xml": ("application/rss+xml", "application/xml", "text/xml", "application/atom+xml"),
    "text": ("text/plain",),
}


_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.I)


def max_age(value: str | None) -> float | None:
    if not value:
        return None
    if "no-store" in value.lower() or "no-cache" in value.lower():
        return 0.0
    match = _MAX_AGE.search(value)
    return float(match.group(1)) if match else None


def charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"' ").lower()
    return None


def type_allowed(content_type: str, accept: Accept) -> bool:
    mime = content_type.split(";")[0].strip().lower()
    if accept == "xml" and mime in ALLOWED_TYPES["html"]:
        return True  # an HTML page where a feed belongs: the feed parser rejects it
    return mime in ALLOWED_TYPES[accept]


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
