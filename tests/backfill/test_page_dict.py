"""``Article.to_dict`` (the stored version's data) is written out for speed: it must stay the
``dataclasses.asdict`` form with ISO 8601 dates and lists, every field, in field order."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from scrapers.article import Article
from scrapers.cphpost import extract
from tests.support.synthetic import generate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cphpost"
SITE = "https://cphpost.dk"


def as_before(page: Article) -> dict[str, Any]:
    data = dataclasses.asdict(page)
    for key in ("published", "modified"):
        data[key] = data[key].isoformat() if data[key] is not None else None
    for key in ("tags", "paragraphs", "related_links"):
        data[key] = list(data[key])
    return data


def pages() -> list[Article]:
    out = []
    for path in sorted(FIXTURES.glob("articles/*.html")):
        page = extract(path.read_bytes(), f"{SITE}/{path.stem[:10]}/news/{path.stem[11:]}/", SITE)
        if isinstance(page, Article):
            out.append(page)
    return out


def test_to_dict_is_the_asdict_form_for_every_recorded_page() -> None:
    found = pages()
    assert len(found) >= 30
    for page in found:
        data = page.to_dict()
        assert data == as_before(page)
        assert list(data) == [f.name for f in dataclasses.fields(Article)]
        assert json.dumps(data) == json.dumps(as_before(page))  # same stored JSON text
        assert Article.from_dict(data) == page


@pytest.mark.parametrize("spec", generate(20, seed=3)[::5], ids=lambda s: s.slug[:30])
def test_to_dict_of_an_article_without_dates_and_lists(spec: Any) -> None:
    page = Article(spec.url, spec.title, "", "", None, None, "news", (), None, False, ())
    assert page.to_dict() == as_before(page)
    assert list(page.to_dict()) == [f.name for f in dataclasses.fields(Article)]
