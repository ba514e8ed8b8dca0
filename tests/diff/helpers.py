"""Builders for the diff tests: the recorded edit and small hand-made articles."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from scrapers.article import Article

EXPECTED = Path(__file__).resolve().parents[1] / "fixtures" / "cphpost" / "expected"
ORIGINAL = "2023-05-22-number-of-rejected-asylum-seekers-earmarked-for-deportation-.json"
CORRECTED = "2023-05-22-rejected-asylum-seekers.corrected.json"


def load(name: str) -> Article:
    return Article.from_dict(json.loads((EXPECTED / name).read_text(encoding="utf-8")))


def make(**fields: Any) -> Article:
    """A small free article; override any field."""
    base = Article(
        url="https://cphpost.dk/2024-01-01/news/test/",
        title="Test headline",
        standfirst="",
        author="Ben Hamilton",
        published=None,
        modified=None,
        section="news",
        tags=(),
        post_id=1,
        paywalled=False,
        paragraphs=(),
    )
    return dataclasses.replace(base, **fields)


def with_paragraph(article: Article, index: int, text: str) -> Article:
    paragraphs = list(article.paragraphs)
    paragraphs[index] = text
    return dataclasses.replace(article, paragraphs=tuple(paragraphs))
