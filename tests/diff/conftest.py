"""Fixtures: the recorded real edit, original and corrected."""

from __future__ import annotations

import pytest

from scrapers.article import Article
from tests.diff.helpers import CORRECTED, ORIGINAL, load


@pytest.fixture(scope="session")
def original() -> Article:
    return load(ORIGINAL)


@pytest.fixture(scope="session")
def corrected() -> Article:
    return load(CORRECTED)
