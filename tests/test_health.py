"""Site health: one ops alert per failure streak, one recovery alert, never one per error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.health import Cycle, SiteHealth, observe

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DOWN = Cycle(requests=3, failed=3, reason="HTTP 503")
UP = Cycle(requests=3, failed=0)


def run(cycles: list[Cycle], threshold: int = 3) -> list[str | None]:
    state, kinds = SiteHealth(), []
    for n, cycle in enumerate(cycles):
        state, kind = observe(state, cycle, threshold, T0 + timedelta(minutes=n))
        kinds.append(kind)
    return kinds


def test_the_site_failing_for_threshold_cycles_sends_one_alert() -> None:
    assert run([DOWN] * 6) == [None, None, "ops_failure", None, None, None]


def test_recovery_after_an_alert_sends_one_recovered_alert() -> None:
    assert run([DOWN] * 3 + [UP, UP]) == [None, None, "ops_failure", "ops_recovered", None]


def test_a_short_blip_below_the_threshold_sends_nothing() -> None:
    assert run([DOWN, DOWN, UP, DOWN, DOWN, UP]) == [None] * 6


def test_most_pages_failing_to_extract_counts_as_broken() -> None:
    redesign = Cycle(requests=10, failed=8, extraction_failed=8, reason="no article body")
    assert redesign.broken
    assert run([redesign] * 3) == [None, None, "ops_failure"]


def test_a_few_failing_pages_are_not_an_outage() -> None:
    assert not Cycle(requests=10, failed=2, extraction_failed=1).broken


def test_cycles_without_requests_change_nothing() -> None:
    idle = Cycle(requests=0, failed=0)
    assert run([DOWN, DOWN, idle, idle, DOWN]) == [None, None, None, None, "ops_failure"]


def test_the_incident_start_is_kept_across_the_streak() -> None:
    state = SiteHealth()
    for n in range(3):
        state, _ = observe(state, DOWN, 3, T0 + timedelta(minutes=n))
    assert (state.incident, state.failed_cycles, state.last_error) == (
        T0.isoformat(),
        3,
        "HTTP 503",
    )


def test_cycles_broken_by_a_redesign_are_left_to_the_template_watch() -> None:
    redesign = Cycle(requests=10, failed=8, extraction_failed=8, reason="no article body")
    state = SiteHealth()
    for n in range(5):
        state, kind = observe(state, redesign, 3, T0 + timedelta(minutes=n), redesign_failures=8)
        assert kind is None
    assert state == SiteHealth()


def test_a_cycle_failing_mostly_for_other_reasons_still_counts_during_a_redesign() -> None:
    mixed = Cycle(requests=10, failed=8, extraction_failed=8, reason="truncated HTML")
    state, kinds = SiteHealth(), []
    for n in range(3):
        state, kind = observe(state, mixed, 3, T0 + timedelta(minutes=n), redesign_failures=3)
        kinds.append(kind)
    assert kinds == [None, None, "ops_failure"]


def test_an_unreachable_site_alerts_whatever_the_template_watch_counted() -> None:
    state, kinds = SiteHealth(), []
    for n in range(3):
        state, kind = observe(state, DOWN, 3, T0 + timedelta(minutes=n), redesign_failures=3)
        kinds.append(kind)
    assert kinds == [None, None, "ops_failure"]
