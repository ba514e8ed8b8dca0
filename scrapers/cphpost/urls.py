"""Which URLs are cphpost.dk articles, and their one canonical spelling.

An article lives at ``{site}/YYYY-MM-DD/<section>[/<sub>]/<slug>/``. Every other spelling that
reaches the same article (no trailing slash, ``www.``/``test.`` host, ``http``, a query string
or fragment, upper case) maps to that one string, so the store keys each article once. Spellings
that only *lead* to an article (``?p=123`` shortlinks, old-site ``/news/<slug>.<id>.html``) are
not articles: they need a redirect, and their post id is all we can read from them.

``site`` is an origin (``https://cphpost.dk`` or a local mirror such as
``http://127.0.0.1:8123``); canonical URLs always start with it.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from urllib.parse import parse_qs, urljoin, urlsplit

DEFAULT_SITE = "https://cphpost.dk"

_HOST_ALIASES = ("www.", "test.")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A plain character class: a per-character alternation for %XX escapes is ~10x slower on long
# slugs, so escapes are checked separately, and only when a path has a "%".
_SEGMENT = r"[a-z0-9_%-]+"
_ARTICLE_PATH = re.compile(
    rf"^/(\d{{4}})-(\d{{2}})-(\d{{2}})/((?:{_SEGMENT}/){{1,2}})({_SEGMENT})/?$"
)
_PERCENT_ESCAPES = re.compile(r"(?:[^%]|%[0-9a-f]{2})*")
# WordPress endpoints that look like path segments but are never a section or a slug.
_RESERVED = frozenset(
    {
        "amp",
        "attachment",
        "author",
        "category",
        "comments",
        "embed",
        "feed",
        "page",
        "tag",
        "trackback",
        "wp-admin",
        "wp-content",
        "wp-includes",
        "wp-json",
    }
)
_OLD_SITE_PATH = re.compile(r"/[^/]+\.(\d+)\.html?$", re.IGNORECASE)


def _origin_key(scheme: str, host: str | None, port: int | None) -> tuple[str, int | None]:
    """Host without www./test. and the port when it is not the scheme's default."""
    host = (host or "").lower().rstrip(".")
    for alias in _HOST_ALIASES:
        if host.startswith(alias):
            host = host[len(alias) :]
            break
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    return host, port


@lru_cache(maxsize=16)
def _site_key(site: str) -> tuple[str, int | None]:
    parts = urlsplit(site)
    return _origin_key(parts.scheme, parts.hostname, parts.port)


def _split_on_site(url: str, site: str) -> tuple[str, str] | None:
    """(path, query) of ``url`` resolved against ``site`` when it is on that site, else None."""
    url = url.strip()
    try:
        if not url.startswith(("https://", "http://")):  # urljoin is slow; most URLs are absolute
            url = urljoin(site.rstrip("/") + "/", url)
        parts = urlsplit(url)
        own = _origin_key(parts.scheme, parts.hostname, parts.port)
        site_key = _site_key(site)
    except ValueError:  # a malformed port or IPv6 literal
        return None
    if parts.scheme not in _DEFAULT_PORTS or not own[0] or own != site_key:
        return None
    return parts.path or "/", parts.query


def same_site(url: str, site: str) -> bool:
    """True when ``url`` (absolute or relative) points at ``site``, modulo scheme, www./test."""
    return _split_on_site(url, site) is not None


def on_site_url(url: str, site: str) -> str | None:
    """``url`` respelled on the configured origin (fragment dropped), or None when off-site."""
    split = _split_on_site(url, site)
    if split is None:
        return None
    path, query = split
    return f"{site.rstrip('/')}{path}" + (f"?{query}" if query else "")


def _article_parts(path: str) -> tuple[str, str, str] | None:
    """(date, section, slug) of an article path, or None; the date must exist."""
    path = path.lower()
    match = _ARTICLE_PATH.match(path)
    if match is None or ("%" in path and not _PERCENT_ESCAPES.fullmatch(path)):
        return None
    year, month, day, section, slug = match.groups()
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return None
    segments = [*section.rstrip("/").split("/"), slug]
    if any(s in _RESERVED or "%2f" in s for s in segments):
        return None
    return f"{year}-{month}-{day}", section.rstrip("/"), slug


def canonicalize(url: str, site: str) -> str | None:
    """The canonical article URL for ``url`` on ``site``, or None when it is not an article."""
    found = canonical_and_section(url, site)
    return found[0] if found is not None else None


def canonical_and_section(url: str, site: str) -> tuple[str, str] | None:
    """:func:`canonicalize` and :func:`section_of` of it, from one reading of the URL."""
    split = _split_on_site(url, site)
    if split is None:
        return None
    parts = _article_parts(split[0])
    if parts is None:
        return None
    day, section, slug = parts
    return f"{site.rstrip('/')}/{day}/{section}/{slug}/", section


def is_article_url(url: str, site: str) -> bool:
    return canonicalize(url, site) is not None


def section_of(canonical_url: str) -> str:
    """Section path of an article URL: ``news``, ``news/politics``, ``art-culture/culture``.

    The whole path between the date and the slug, because sub-sections (``news/business``) say
    more than their parent and the recorded expectations keep them.
    """
    parts = _article_parts(urlsplit(canonical_url).path)
    if parts is None:
        raise ValueError(f"not an article URL: {canonical_url!r}")
    return parts[1]


def shortlink_post_id(url: str, site: str) -> int | None:
    """Post id of a WordPress shortlink ``{site}/?p=123``; None for anything else."""
    split = _split_on_site(url, site)
    if split is None or split[0] not in ("/", "/index.php"):
        return None
    values = parse_qs(split[1]).get("p", [])
    if len(values) != 1 or not values[0].isascii() or not values[0].isdigit():
        return None
    post_id = int(values[0])
    return post_id if post_id > 0 else None


def old_site_post_id(url: str) -> int | None:
    """Post id in an old-site URL ``/news/<slug>.<id>.html`` (any host: the old site is gone)."""
    try:
        path = urlsplit(url.strip()).path
    except ValueError:
        return None
    match = _OLD_SITE_PATH.search(path)
    if match is None:
        return None
    post_id = int(match.group(1))
    return post_id if post_id > 0 else None


def post_id_from_shortlink_href(href: str) -> int | None:
    """Post id from any ``?p=N`` link, whatever its host: a page names its own shortlink."""
    try:
        query = urlsplit(href.strip()).query
    except ValueError:
        return None
    values = parse_qs(query).get("p", [])
    if len(values) == 1 and values[0].isascii() and values[0].isdigit() and int(values[0]) > 0:
        return int(values[0])
    return None
