"""Shared pieces of the fault scenarios (``tests/e2e/test_faults_*.py``); this module has no tests.

Speed: every subprocess costs about a second of imports, and a first ``run --once`` over the
recorded site several more. Most scenarios start from the same place (every recorded article
stored once, the "new" alerts already delivered), so that state is built once per test session
by the real CLI (:func:`baseline`) and each scenario gets a copy of the SQLite file with the
replay site's origin rewritten to its own (:func:`installation`). Nothing else is faked: every
step of a scenario is a real ``cphpost-monitor`` process against the local servers.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlmodel import col, select

from monitor.classify import classify, load_rules
from monitor.models import Alert, Article, Change, Delivery, FetchLog, Version
from tests.e2e.harness import Monitor
from tests.support import pages
from tests.support.pages import CET, ArticleSpec
from tests.support.replay import ReplaySite
from tests.support.sinks import SMTPSink, WebhookSink

CORRECTED = (
    "/2023-05-22/news/"
    "number-of-rejected-asylum-seekers-earmarked-for-deportation-halved-in-two-years/"
)
FURNITURE_ONLY = "/2015-05-21/news/denmark-oversaw-600-forced-repatriations-last-year/"
BOGUS_ENTITY_ARTICLE = "/2025-06-01/news/entity/"  # the item an XML bomb / XXE feed names
PASSWD_MARK = "root:x:0:0"  # what /etc/passwd would leak through an external entity
DB_NAME = "monitor.sqlite3"  # the harness's SQLite file name under data/
ARTICLE_ALERTS = frozenset({"new", "changed", "paywall", "deleted", "restored", "relevance_gained"})

# Baseline databases, built once per session --------------------------------------------------

_TEMPLATES: dict[str, tuple[Path, str]] = {}
_TEMPLATE_LOCK = threading.Lock()


def _netloc(origin: str) -> str:
    return urlsplit(origin).netloc


def baseline(factory: pytest.TempPathFactory, *, ran: bool = True) -> tuple[Path, str]:
    """(SQLite file, site netloc it was built against): schema only, or after one ``run --once``.

    Built by the real CLI against a pristine replay of the recorded site, once per session.
    """
    name = "ran" if ran else "empty"
    with _TEMPLATE_LOCK:
        if name not in _TEMPLATES:
            root = factory.mktemp(f"baseline-{name}")
            with ReplaySite() as site:
                mon = Monitor(root, site.origin)
                mon.upgrade()
                if ran:
                    mon.run_once()
                    # A copy stands for a later moment: every article is due again at once.
                    with closing(sqlite3.connect(mon.data_dir / DB_NAME)) as db:
                        db.execute("UPDATE article SET next_check_at = last_checked")
                        db.commit()
                mon.close()
                _TEMPLATES[name] = (mon.data_dir / DB_NAME, _netloc(site.origin))
        return _TEMPLATES[name]


def clone_database(source: Path, target: Path, old_netloc: str, new_netloc: str) -> None:
    """Copy an SQLite store and point every stored URL at another replay site."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        if old_netloc == new_netloc:
            return
        tables = [
            row[0]
            for row in dst.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            for column in [row[1] for row in dst.execute(f'PRAGMA table_info("{table}")')]:
                dst.execute(
                    f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                    f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?) > 0',
                    (old_netloc, new_netloc, old_netloc),
                )
        dst.commit()


def installation(
    tmp_path: Path,
    factory: pytest.TempPathFactory,
    site: ReplaySite,
    *,
    ran: bool = True,
    database_url: str | None = None,
    **settings: object,
) -> Monitor:
    """A Monitor whose SQLite store starts from the session baseline (``ran``) or empty schema.

    With ``database_url`` (PostgreSQL), the schema is created by ``db upgrade`` instead.
    """
    mon = Monitor(tmp_path, site.origin, database_url=database_url, **settings)
    if database_url is not None:
        mon.upgrade()
        return mon
    source, netloc = baseline(factory, ran=ran)
    clone_database(source, mon.data_dir / DB_NAME, netloc, _netloc(site.origin))
    return mon


# Looking at one installation -----------------------------------------------------------------


def integrity(mon: Monitor) -> str:
    """``PRAGMA integrity_check`` of the store (no daemon must be writing)."""
    with closing(sqlite3.connect(mon.data_dir / DB_NAME)) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def fetch_log(
    mon: Monitor, url: str | None = None, since: datetime | None = None
) -> list[FetchLog]:
    with mon.db() as db:
        query = select(FetchLog).order_by(col(FetchLog.id))
        if url is not None:
            query = query.where(FetchLog.url == url)
        if since is not None:
            query = query.where(col(FetchLog.at) >= since)
        return list(db.exec(query))


def alert_kinds(mon: Monitor, url: str) -> list[str]:
    """Kinds of the alerts about the article at ``url``, oldest first."""
    article = mon.article(url)
    return [a.kind for a in mon.alerts() if a.article_id == article.id]


def change_kinds(mon: Monitor, url: str) -> list[list[str]]:
    return [list(c.kinds) for c in mon.changes(url)]


def gone_articles(mon: Monitor) -> list[str]:
    """Articles taken for deleted, or suspected of it (a first 404 awaiting confirmation)."""
    return [a.url for a in mon.articles() if a.status == "gone" or a.missing_since is not None]


def tracked(mon: Monitor, url: str) -> Article | None:
    return next((a for a in mon.articles() if a.url == url), None)


def consistency_problems(mon: Monitor) -> list[str]:
    """Cross-table invariants a crash must never break (empty list: consistent)."""
    problems: list[str] = []
    with mon.db() as db:
        articles = list(db.exec(select(Article)))
        versions = list(db.exec(select(Version)))
        changes = list(db.exec(select(Change)))
        alerts = list(db.exec(select(Alert)))
        deliveries = list(db.exec(select(Delivery)))
    by_article: dict[int, list[Version]] = {}
    for version in versions:
        by_article.setdefault(version.article_id, []).append(version)
    version_ids = {v.id for v in versions}
    for article in articles:
        own = sorted(by_article.get(article.id or 0, []), key=lambda v: v.seq)
        if article.version_count != len(own):
            problems.append(f"{article.url}: version_count {article.version_count} != {len(own)}")
        if [v.seq for v in own] != list(range(1, len(own) + 1)):
            problems.append(f"{article.url}: version numbers {[v.seq for v in own]}")
        if own and article.current_version_id != own[-1].id:
            problems.append(f"{article.url}: current version is not the latest")
        fingerprints = [v.fingerprint for v in own]
        for a, b in itertools.pairwise(fingerprints):
            if a == b:
                problems.append(f"{article.url}: two consecutive versions with one fingerprint")
    for change in changes:
        for ref in (change.from_version_id, change.to_version_id):
            if ref is not None and ref not in version_ids:
                problems.append(f"change {change.id} names a missing version {ref}")
    change_ids = {c.id for c in changes}
    keys = Counter(a.dedupe_key for a in alerts)
    problems += [f"alert key {k} stored {n} times" for k, n in keys.items() if n > 1]
    for alert in alerts:
        if alert.change_id is not None and alert.change_id not in change_ids:
            problems.append(f"alert {alert.id} names a missing change {alert.change_id}")
    alert_ids = {a.id for a in alerts}
    pairs = Counter((d.alert_id, d.target) for d in deliveries)
    problems += [f"delivery {p} stored {n} times" for p, n in pairs.items() if n > 1]
    problems += [
        f"delivery {d.id} of a missing alert" for d in deliveries if d.alert_id not in alert_ids
    ]
    return problems


# What the sinks received ---------------------------------------------------------------------

_KEY = re.compile(r"alert-(\d+)-[0-9a-z]+")


def alert_ids_in(keys: Iterable[str]) -> list[int]:
    """Alert ids named by idempotency keys (``alert-{id}-{target}``, comma-separated)."""
    ids: list[int] = []
    for value in keys:
        ids += [int(m.group(1)) for m in _KEY.finditer(value or "")]
    return ids


def webhook_alert_ids(sink: WebhookSink) -> list[int]:
    """One alert id per delivered (2xx) webhook request, repeats kept."""
    return alert_ids_in(r.headers.get("x-idempotency-key", "") for r in sink.delivered)


def smtp_alert_ids(sink: SMTPSink) -> list[int]:
    return alert_ids_in(str(m.get("X-Idempotency-Key", "")) for m in sink.messages)


def delivered_kinds(mon: Monitor, ids: Iterable[int], url: str) -> list[str]:
    """Kinds of the delivered alerts (by id, repeats kept) that are about the article at ``url``."""
    article = mon.article(url)
    by_id = {a.id: a for a in mon.alerts()}
    return [by_id[i].kind for i in ids if i in by_id and by_id[i].article_id == article.id]


# Building and editing pages ------------------------------------------------------------------


def migration_spec(
    number: int,
    label: str,
    *,
    post_id: int,
    published: datetime | None = None,
    edited: bool = False,
) -> ArticleSpec:
    """A new article the classifier counts as about migration (asylum, deportation).

    ``edited=True`` gives the same article after a substantive edit: the headline reworded
    and the key figure corrected (the diff rates both substantive: a "changed" alert).
    """
    when = (published or datetime.now(CET)).replace(microsecond=0)
    shown = number + 37 if edited else number
    title = (
        f"{shown} rejected asylum seekers get their deportation orders reviewed ({label})"
        if edited
        else f"Ministry reviews deportation orders of {number} rejected asylum seekers ({label})"
    )
    return ArticleSpec(
        path=f"/{when:%Y-%m-%d}/news/ministry-reviews-deportation-orders-{label}/",
        title=title,
        paragraphs=(
            f"The Immigration Ministry will review the deportation orders of {shown} rejected "
            "asylum seekers, the immigration minister said on Monday.",
            "The Danish Immigration Service processed the asylum applications of the families, "
            "who have lived at departure centres for several years.",
            "Refugee organisations welcomed the review of the residence permits but said the "
            "asylum system remains too strict.",
            "## What happens next",
            f"The Refugee Appeals Board will hear the {label} cases in the spring.",
        ),
        published=when,
        post_id=post_id,
        standfirst=f"Rejected asylum seekers may be allowed to stay ({label})",
        tags=("asylum", "deportation"),
    )


def assert_relevant(*specs: ArticleSpec) -> None:
    """Fail early, with the reason, if the classifier would not alert these articles."""
    rules = load_rules(None, "extend")
    for spec in specs:
        verdict = classify(spec.title, spec.standfirst, list(spec.paragraphs), rules)
        assert verdict.relevant, (
            f"test article not about migration for the classifier: {spec.title}"
        )


def render(site: ReplaySite, spec: ArticleSpec) -> str:
    return pages.article_template(site.fixtures_dir).render(spec, today=site.today)


def publish_page(site: ReplaySite, spec: ArticleSpec) -> None:
    """Serve an article page without listing it anywhere (feeds and sitemaps are up to the test)."""
    site.set_page(spec.path, render(site, spec))


def feed_of(path: str, specs: Iterable[ArticleSpec]) -> str:
    return pages.feed_document(path, "The Copenhagen Post", list(specs))


def in_body(html: str, extra: str) -> str:
    """Append an HTML fragment at the end of the article body (``.entry-content``)."""
    new, count = re.subn(
        r'(<div class="entry-content">.*?)(</div>\n<footer class="entry-footer">)',
        lambda m: m.group(1) + extra + "\n" + m.group(2),
        html,
        count=1,
        flags=re.S,
    )
    assert count == 1, "no .entry-content to edit"
    return new


def paywalled(html: str) -> str:
    """The premium treatment of a free article: JSON-LD flag and the paywall box, teaser only."""
    html = re.sub(r'("isAccessibleForFree"\s*:\s*)true', r"\1false", html)

    def teaser_only(m: re.Match[str]) -> str:
        first = re.search(r"<p>.*?</p>", m.group(2), flags=re.S)
        box = (
            '<div class="paywall-box"><h3 class="paywall-title">This article is for '
            'subscribers</h3><ul class="paywall-plans"><li>Monthly: 59 kr.</li></ul></div>'
        )
        return m.group(1) + (first.group(0) if first else "") + "\n" + box + "\n" + m.group(3)

    new, count = re.subn(
        r'(<div class="entry-content">\n)(.*?)(</div>\n<footer class="entry-footer">)',
        teaser_only,
        html,
        count=1,
        flags=re.S,
    )
    assert count == 1, "no .entry-content to put behind the paywall"
    return new


def redesigned(html: str) -> str:
    """A template redesign of one page: the body container the extractor knows is gone."""
    return html.replace("entry-content", "story__body").replace('itemprop="articleBody"', "")


def utcnow() -> datetime:
    return datetime.now(UTC)
