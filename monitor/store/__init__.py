"""Storage operations: discovered URLs, claims with leases, named leases, the shared rate limit.

Every function here is one short transaction (or runs inside the caller's). The package is cut
by concern — :mod:`~monitor.store.articles`, :mod:`~monitor.store.claims` (and the one-statement
re-check path of :mod:`~monitor.store.recheck`), :mod:`~monitor.store.leases`,
:mod:`~monitor.store.limits` — and every public name is importable from ``monitor.store``.
"""

from monitor.store.articles import (
    AddResult,
    add_alias,
    add_candidates,
    due_count,
    find_article,
    known_articles,
    prune,
    sqlite_integrity,
    versions_of,
)
from monitor.store.claims import (
    Claim,
    Held,
    claim_article,
    claim_due,
    claim_of,
    held_by_other,
    lock_claimed,
    release_claims,
    renew_claim,
)
from monitor.store.common import aware, dialect_insert, owner_is_dead, utcnow, worker_name
from monitor.store.leases import (
    Singleton,
    acquire_lease,
    get_lease,
    release_lease,
    take_over_lease,
    take_singleton,
)
from monitor.store.limits import Slot, block_host, host_block, reserve_slot

__all__ = [
    "AddResult",
    "Claim",
    "Held",
    "Singleton",
    "Slot",
    "acquire_lease",
    "add_alias",
    "add_candidates",
    "aware",
    "block_host",
    "claim_article",
    "claim_due",
    "claim_of",
    "dialect_insert",
    "due_count",
    "find_article",
    "get_lease",
    "held_by_other",
    "host_block",
    "known_articles",
    "lock_claimed",
    "owner_is_dead",
    "prune",
    "release_claims",
    "release_lease",
    "renew_claim",
    "reserve_slot",
    "sqlite_integrity",
    "take_over_lease",
    "take_singleton",
    "utcnow",
    "versions_of",
    "worker_name",
]
