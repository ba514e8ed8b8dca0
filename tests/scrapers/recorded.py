"""Paths and small readers for the recorded cphpost.dk site (tests/fixtures/cphpost)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "cphpost"
HOSTILE = RECORDED / "hostile"
LIVE = "https://cphpost.dk"
MIRROR = "http://127.0.0.1:8123"

FREE_STEM = "2023-05-22-number-of-rejected-asylum-seekers-earmarked-for-deportation-"
PREMIUM_STEM = "2025-05-07-danish-bravery-in-the-nanjing-massacre"
FURNITURE_ONLY = "versions/2015-05-21-forced-repatriations.furniture-only.html"
FURNITURE_ONLY_ORIGINAL = (
    "articles/2015-05-21-denmark-oversaw-600-forced-repatriations-last-year.html"
)
CORRECTED = "versions/2023-05-22-rejected-asylum-seekers.corrected.html"
CORRECTED_EXPECTED = "2023-05-22-rejected-asylum-seekers.corrected"


def read_bytes(relative: str) -> bytes:
    return (RECORDED / relative).read_bytes()


def hostile(name: str) -> bytes:
    return (HOSTILE / name).read_bytes()


@cache
def manifest() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads((RECORDED / "manifest.json").read_text(encoding="utf-8")))


def entries(kind: str) -> list[dict[str, Any]]:
    return [entry for entry in manifest() if entry["kind"] == kind]


def expected(stem: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (RECORDED / "expected" / f"{stem}.json").read_text(encoding="utf-8")
    )
    return data


def expected_stems() -> list[str]:
    """Every expected/*.json that belongs to a page in articles/ (same file stem)."""
    return sorted(p.stem for p in (RECORDED / "articles").glob("*.html"))


@cache
def post_ids_by_url() -> dict[str, int]:
    """Post id of every expected article, keyed by its canonical URL."""
    return {expected(s)["url"]: expected(s)["post_id"] for s in expected_stems()}


def xml_values(relative: str, tag: str, within: str) -> list[str]:
    """Text of every ``<tag>`` inside a ``<within>`` element, read by regex, not by our parser."""
    text = (RECORDED / relative).read_text(encoding="utf-8")
    blocks = re.findall(rf"<{within}>(.*?)</{within}>", text, re.S)
    return [
        m.strip() for block in blocks for m in re.findall(rf"<{tag}>(.*?)</{tag}>", block, re.S)
    ]


def archive_teaser_links(relative: str) -> list[str]:
    """Headline links of the teasers inside the archive list, read by regex."""
    text = (RECORDED / relative).read_text(encoding="utf-8")
    archive = re.search(r'<ul class="post-list archive-list">(.*?)</ul>', text, re.S)
    assert archive is not None, relative
    return re.findall(r'<h3 class="teaser-title"><a href="([^"]+)"', archive.group(1))
