"""Where a backfill's CPU goes, by stage: an optional hook for ``bench/backfill.py``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field


@dataclass(slots=True)
class Timings:
    """Process CPU seconds per stage, exclusive (a stage's figure leaves out the stages it
    contains), the checks recorded per transaction, and what the worker processes used."""

    seconds: dict[str, float] = field(default_factory=dict)
    batches: list[int] = field(default_factory=list)
    prepared_by_workers: int = 0  # checks whose page a worker process prepared
    worker_chunks: int = 0  # submissions to the workers that carried those pages
    worker_cpu: float = 0.0  # seconds, all workers
    worker_peak_kib: int = 0  # the largest worker's
    _nested: float = 0.0  # CPU already attributed, so an enclosing stage can leave it out

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started, nested = time.process_time(), self._nested
        try:
            yield
        finally:
            own = time.process_time() - started - (self._nested - nested)
            self.seconds[name] = self.seconds.get(name, 0.0) + own
            self._nested += own


def timed(timings: Timings | None, name: str) -> AbstractContextManager[None]:
    """``timings.stage(name)``, or nothing without timings. Only around code that does not
    await: process time is the whole process's."""
    return nullcontext() if timings is None else timings.stage(name)
