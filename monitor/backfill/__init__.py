"""Backfill: years of history before the daemon starts watching.

The backfill walks the sitemaps (or an archive listing, or the feeds) back to ``since`` and runs
every article that is not stored yet, or stored before the source's newer ``lastmod``, through
the same fetch, :func:`monitor.check.prepare` and record the daemon's checks use. It stands
beside the daemon on :mod:`monitor.runtime`, and imports nothing of it.

- :mod:`~monitor.backfill.sources`: the date filter, the checkpoints, the source walkers;
- :mod:`~monitor.backfill.plan`: the skip rule, planning with claims, the singleton lease;
- :mod:`~monitor.backfill.pool`: extraction and classification in worker processes;
- :mod:`~monitor.backfill.writer`: group commit;
- :mod:`~monitor.backfill.run`: the run loop and its counts.

Why it is resumable: an article's check is one transaction, so everything stored stays stored and
the skip rule passes over it on the next run; on top of that the checkpoints record each sitemap
fully processed and the listing page reached. A kill -9 leaves leases behind: the next run finds
the dead run's name in the ``backfill`` lease and releases them.
"""

from monitor.backfill.plan import (
    BACKFILL_LEASE,
    BackfillRunning,
    Plan,
    plan_batch,
    take_backfill_lease,
    up_to_date,
)
from monitor.backfill.run import BackfillCounts, backfill
from monitor.backfill.sources import SOURCES, Source, article_day, in_range
from monitor.backfill.timings import Timings

__all__ = [
    "BACKFILL_LEASE",
    "SOURCES",
    "BackfillCounts",
    "BackfillRunning",
    "Plan",
    "Source",
    "Timings",
    "article_day",
    "backfill",
    "in_range",
    "plan_batch",
    "take_backfill_lease",
    "up_to_date",
]
