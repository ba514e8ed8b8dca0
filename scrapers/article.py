"""The values every scraper returns: articles, extraction failures and discovery candidates.

An :class:`Article` holds only what the newsroom wrote. Page furniture (tickers, teasers, age
notices, ads, paywall prices) never reaches it, so its :func:`fingerprint` changes only when the
article itself changes.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Article:
    """One extraction of one article page."""

    url: str  # canonical URL
    title: str
    standfirst: str
    author: str
    published: datetime | None  # timezone-aware
    modified: datetime | None  # timezone-aware
    section: str  # section path of the canonical URL, e.g. "news" or "news/politics"
    tags: tuple[str, ...]
    post_id: int | None
    paywalled: bool
    paragraphs: tuple[str, ...]  # body in order, subheads included, no READ MORE lines
    related_links: tuple[str, ...] = ()  # READ MORE link texts, kept apart from the body

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO 8601, tuples as lists), keys in field order.

        Written out rather than ``dataclasses.asdict`` (which deep-copies every value): it is
        on the path of every stored version. A new field must be added here too.
        """
        published, modified = self.published, self.modified
        return {
            "url": self.url,
            "title": self.title,
            "standfirst": self.standfirst,
            "author": self.author,
            "published": published.isoformat() if published is not None else None,
            "modified": modified.isoformat() if modified is not None else None,
            "section": self.section,
            "tags": list(self.tags),
            "post_id": self.post_id,
            "paywalled": self.paywalled,
            "paragraphs": list(self.paragraphs),
            "related_links": list(self.related_links),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Article:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        return cls(
            url=data["url"],
            title=data.get("title", ""),
            standfirst=data.get("standfirst", ""),
            author=data.get("author", ""),
            published=when(data.get("published")),
            modified=when(data.get("modified")),
            section=data.get("section", ""),
            tags=tuple(data.get("tags", ())),
            post_id=data.get("post_id"),
            paywalled=bool(data.get("paywalled", False)),
            paragraphs=tuple(data.get("paragraphs", ())),
            related_links=tuple(data.get("related_links", ())),
        )


@dataclass(frozen=True, slots=True)
class ExtractionFailure:
    """A page that did not yield a plausible article (redesign, error page, truncated body).

    Callers treat it as a transient fault: it never becomes a version, a deletion or an alert.
    """

    url: str
    reason: str

    def __bool__(self) -> bool:  # so ``if result:`` reads as "did we get an article"
        return False


@dataclass(frozen=True, slots=True)
class Candidate:
    """An article URL found by discovery, with whatever hints the source gave."""

    url: str  # canonical article URL
    source: str  # "feed", "sitemap" or "listing"
    title: str | None = None
    published: datetime | None = None
    lastmod: datetime | None = None
    categories: tuple[str, ...] = field(default_factory=tuple)


_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans(
    {"‘": "'", "’": "'", "‚": "'", "′": "'", "“": '"', "”": '"', "„": '"', "″": '"'}
)


def clean_text(text: str) -> str:
    """Fold Unicode form, invisible characters and whitespace: what no reader can see."""
    text = unicodedata.normalize("NFC", text).replace("\u00ad", "").replace("\u200b", "")
    return _SPACE.sub(" ", text).strip()


def normalize_text(text: str) -> str:
    """:func:`clean_text` plus quote style: two texts equal here differ only cosmetically."""
    return clean_text(unicodedata.normalize("NFKC", text).translate(_QUOTES))


def fingerprint(article: Article) -> str:
    """SHA-256 over the article fields only, whitespace and Unicode form folded.

    Two recordings of the same article whose page furniture differs share a fingerprint; any
    edit a reader could notice (wording, quote style, a figure, the paywall state, the byline)
    changes it, so cosmetic edits are stored too (the diff then rates them cosmetic).
    ``modified`` is left out on purpose: WordPress bumps it on saves that change nothing.
    """
    payload = {
        "title": clean_text(article.title),
        "standfirst": clean_text(article.standfirst),
        "author": clean_text(article.author),
        "published": article.published.isoformat() if article.published else None,
        "paywalled": article.paywalled,
        "tags": sorted(clean_text(t).lower() for t in article.tags),
        "paragraphs": [p for p in (clean_text(p) for p in article.paragraphs) if p],
        "related_links": [clean_text(r) for r in article.related_links],
    }
    blob = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
