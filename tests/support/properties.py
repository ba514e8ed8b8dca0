"""How many examples a property test draws, by Hypothesis profile.

``make test`` (CI) runs the ``default`` profile: every test draws the number it names.
``make test-fast`` sets ``HYPOTHESIS_PROFILE=fast`` (loaded in ``tests/conftest.py``): each
draws a tenth, at least 10, so the inner loop still exercises every property without paying
for the whole search each time.
"""

from __future__ import annotations

from hypothesis import settings

FULL = 100  # the default profile's max_examples, against which test counts are written


def examples(n: int) -> int:
    """``n`` examples under the default profile, scaled with the loaded profile's."""
    return max(10, round(n * settings.default.max_examples / FULL))
