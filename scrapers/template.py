"""A learned page template: where a redesigned site now keeps its article body.

A value, so that it can be stored, compared and passed to extraction: the CSS selectors of the
body container(s) and of the blocks inside them that are not article text; and
:class:`Stored`, the text it is learned from. How one is learned is in :mod:`scrapers.learn`;
the documentation is ``docs/redesign.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapers.article import Article


@dataclass(frozen=True, slots=True)
class Template:
    """Where the body is when the theme's own containers are gone.

    ``body``: selectors whose matches, in page order, hold the article text (two when the body
    is split across containers that share no class); ``exclude``: selectors of blocks inside
    them that are page furniture (age notice, captions, teasers, ads, the paywall box).
    """

    body: tuple[str, ...]
    exclude: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"body": list(self.body), "exclude": list(self.exclude)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Template:
        return cls(tuple(data.get("body", ())), tuple(data.get("exclude", ())))

    def describe(self) -> str:
        """One line for people: ``body in `div.story-body` without `p.story-age```."""
        where = ", ".join(f"`{s}`" for s in self.body)
        without = ", ".join(f"`{s}`" for s in self.exclude)
        return f"body in {where}" + (f" without {without}" if without else "")


@dataclass(frozen=True, slots=True)
class Stored:
    """What the monitor knows an article says: its latest version's body."""

    paragraphs: tuple[str, ...]
    related_links: tuple[str, ...] = ()

    @classmethod
    def of(cls, article: Article) -> Stored:
        return cls(article.paragraphs, article.related_links)
