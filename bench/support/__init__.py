"""Pieces shared by the benchmarks in ``bench/`` (not benchmarks themselves: ``make bench``
runs ``bench/*.py`` only)."""
