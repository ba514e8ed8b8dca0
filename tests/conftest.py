"""Fixtures exposing the local servers every test talks to instead of the outside world, and
the markers every test gets by where it lives (see ``pytest_collection_modifyitems``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.replay import ReplaySite
from tests.support.sinks import SMTPSink, WebhookSink

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TESTS = Path(__file__).resolve().parent
# Directories whose tests are slow by nature, by marker: ``make test-fast`` leaves them out.
MARKED_DIRS = {"e2e": "e2e", "scale": "scale", "bench": "bench"}


# Property tests draw their full counts by default; ``make test-fast`` asks for a tenth
# (tests/support/properties.py).
settings.register_profile("fast", max_examples=10)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``make test-fast``) a worker inherits ``COLUMNS=80`` from it, and
    rich then wraps the CLI's output at 80 columns where a plain run does not: drop it, so a
    test sees the same terminal either way."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.pop("COLUMNS", None)
        os.environ.pop("LINES", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by where they live and what they use, so a new test gets its markers without
    anyone remembering them: ``e2e``/``scale``/``bench`` by directory, ``postgres`` for tests
    that use the ``pg_url`` fixture or run a PostgreSQL parameter (an id naming postgres)."""
    for item in items:
        parts = item.path.resolve().relative_to(TESTS).parts if item.path else ()
        for directory, marker in MARKED_DIRS.items():
            if parts and parts[0] == directory:
                item.add_marker(marker)
        params = item.name.partition("[")[2]
        if "pg_url" in getattr(item, "fixturenames", ()) or "postgres" in params:
            item.add_marker("postgres")


@pytest.fixture
def replay_site() -> Iterator[ReplaySite]:
    """The recorded cphpost.dk on a fresh local port, pristine for each test."""
    with ReplaySite() as site:
        yield site


@pytest.fixture
def smtp_sink() -> Iterator[SMTPSink]:
    with SMTPSink() as sink:
        yield sink


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.fixture(scope="session")
def pg_url() -> str:
    """SQLAlchemy URL of the test PostgreSQL (``CPHMON_TEST_PG_URL``); skips when unreachable."""
    url = os.environ.get("CPHMON_TEST_PG_URL", DEFAULT_PG_URL)
    shown = re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
    try:
        import psycopg

        conninfo = re.sub(r"^postgresql\+\w+://", "postgresql://", url)
        psycopg.connect(conninfo, connect_timeout=2).close()
    except Exception as exc:  # any failure means: no usable server here
        pytest.skip(f"PostgreSQL not reachable at {shown}: {exc}".strip())
    return url
