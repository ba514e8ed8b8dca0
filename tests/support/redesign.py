"""The redesign variants of the recorded pages, made at test time (issue 21).

``tests/fixtures/cphpost/redesign/make_redesign.py`` rewrites the markup of every recorded
article page deterministically; nothing it makes is committed. Loaded once per process.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

GENERATOR = Path(__file__).resolve().parents[1] / "fixtures/cphpost/redesign/make_redesign.py"


@cache
def variants() -> ModuleType:
    """The generator module: ``variant_renamed(page)``, ..., ``redesigned(variant, stem)``."""
    spec = importlib.util.spec_from_file_location("make_redesign", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def redesigned(variant: str, stem: str) -> bytes:
    page: bytes = variants().redesigned(variant, stem)
    return page


def variant_names() -> tuple[str, ...]:
    return tuple(variants().VARIANTS)
