"""Fixtures exposing the local servers every test talks to instead of the outside world."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import pytest

from tests.support.replay import ReplaySite
from tests.support.sinks import SMTPSink, WebhookSink

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


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
