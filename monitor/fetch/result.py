"""What one logical fetch comes to, as a value (failures included: a flaky site is normal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Accept = Literal["html", "xml", "text"]


@dataclass(slots=True)
class FetchResult:
    """What one logical fetch (redirects and retries included) came to."""

    url: str
    final_url: str
    status: int | None = None  # None: no HTTP answer (network error, refused by policy)
    body: bytes = b""
    encoding: str | None = None
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    permanent_redirect: bool = False  # every hop was 301/308
    error: str | None = None  # set for every outcome that is not a usable answer
    retry_after: float | None = None  # seconds the site asked us to wait
    deferred_until: float | None = None  # epoch: Retry-After honoured, the fetch postponed
    max_age: float | None = None  # Cache-Control: max-age
    elapsed: float = 0.0
    attempts: int = 0
    redirects: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304

    @property
    def missing(self) -> bool:
        """404 or 410: the article may be gone (confirmed only by a second fetch later)."""
        return self.status in (404, 410) and self.error is None

    @property
    def transient(self) -> bool:
        return not (self.ok or self.not_modified or self.missing)

    @property
    def deferred(self) -> bool:
        """The site asked us to wait (Retry-After): check again at ``deferred_until``."""
        return self.deferred_until is not None


@dataclass(slots=True)
class Hop(FetchResult):
    """One request of a fetch (a redirect hop or the final answer), with its ``Location``."""

    last_modified_location: str | None = None
