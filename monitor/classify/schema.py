"""The shape of a rules file, as pydantic models, so a mistake is reported with its place.

:func:`check` validates one file's parsed TOML (a user's extension, or the packaged rules) and
raises :class:`RulesError` with one line naming the file, the place (``topics.asylum.core."x"``)
and the problem. Terms and patterns are compiled while validating, so a file that passes builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic_core import ErrorDetails

from monitor.classify.terms import TermError, compile_pattern, term_regex

TOPICS: tuple[str, ...] = (
    "asylum",
    "deportation",
    "refugees",
    "residence_permits",
    "work_permits",
    "citizenship",
    "family_reunification",
    "integration",
    "undocumented",
    "border_control",
    "immigration_statistics",
    "immigration_politics",
)
FIELDS: tuple[str, ...] = ("title", "standfirst", "body")


class RulesError(ValueError):
    """A rules file is unusable; the one-line message names the file and the problem."""


def _term(value: str) -> str:
    term_regex(value)  # raises TermError (a ValueError) with the problem
    return value


def _regex(value: str) -> str:
    compile_pattern(value)
    return value


Number = Annotated[float, Field(strict=True, ge=0, allow_inf_nan=False)]
TermText = Annotated[str, AfterValidator(_term)]
Regex = Annotated[str, AfterValidator(_regex)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FieldWeights(_Model):
    title: Number | None = None
    standfirst: Number | None = None
    body: Number | None = None


class Scoring(_Model):
    field_weights: FieldWeights | None = None
    relevance_threshold: Number | None = None
    core_minimum: Number | None = None
    body_norm_words: Number | None = None
    topic_threshold: Number | None = None
    topic_relative: Number | None = None
    lead_paragraphs: Number | None = None
    headline_minimum: Number | None = None
    passing_coverage: Number | None = None
    headline_coverage: Number | None = None
    roundup_items: Number | None = None
    topic_coverage: Number | None = None


class Furniture(_Model):
    drop: list[Regex] = []
    strip: list[Regex] = []


class Negative(_Model):
    mask: list[TermText] = []


class Structure(_Model):
    roundup_titles: list[Regex] = []


class Pattern(_Model):
    regex: Regex
    weight: Number = 1.0
    tier: Literal["core", "weak"] = "core"


class Topic(_Model):
    definition: str = ""
    core: dict[TermText, Number] = {}
    weak: dict[TermText, Number] = {}
    patterns: list[Pattern] = []


Topics = create_model(  # one optional table per known topic: any other name is unknown
    "Topics",
    __config__=ConfigDict(extra="forbid", strict=True),
    **{name: (Topic | None, None) for name in TOPICS},  # type: ignore[call-overload]
)


class RulesFile(_Model):
    version: Literal[1] = 1
    scoring: Scoring = Scoring()
    furniture: Furniture = Furniture()
    negative: Negative = Negative()
    structure: Structure = Structure()
    topics: Topics = Topics()


def check(source: str, data: Mapping[str, Any], *, complete: bool) -> None:
    """Raise :class:`RulesError` for the first problem of one rules file's parsed TOML."""
    try:
        RulesFile.model_validate(dict(data))
    except ValidationError as exc:
        raise RulesError(_describe(source, exc.errors()[0])) from None
    if complete and not data.get("topics"):
        raise RulesError(f"{source}: topics: a replacement rules file needs at least one topic")


def _place(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for i, item in enumerate(loc):
        if item == "[key]":
            continue
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1] if parts else ''}[{item}]"]
        elif loc[0] == "topics" and i == 3 and loc[2] in ("core", "weak"):
            parts.append(f'"{item}"')  # a term, quoted as in the file
        else:
            parts.append(str(item))
    return ".".join(parts)


def _unknown(loc: tuple[int | str, ...]) -> str:
    if len(loc) == 1:
        return f"unknown section {loc[0]!r}"
    if loc[0] == "topics" and len(loc) == 2:
        return f"unknown topic (topics: {', '.join(TOPICS)})"
    if loc[0] == "topics":
        return "unknown key"
    if loc[:2] == ("scoring", "field_weights"):
        return "unknown field"
    return "unknown setting"


def _describe(source: str, error: ErrorDetails) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        problem = _unknown(loc)
    elif loc == ("version",):
        problem = f"unsupported rules version {value!r}"
    elif kind == "value_error":
        problem = str((error.get("ctx") or {}).get("error", error["msg"]))
    elif kind in ("greater_than_equal",):
        problem = f"must be at least {error.get('ctx', {}).get('ge', 0):g}, got {value!r}"
    elif kind in ("float_type", "float_parsing", "finite_number"):
        problem = f"expected a number, got {value!r}"
    elif kind == "literal_error" and loc[-1] == "tier":
        problem = "must be 'core' or 'weak'"
    elif kind == "missing":
        problem = "missing"
    elif kind in ("model_type", "dict_type"):
        problem = "expected a table"
    elif kind == "list_type":
        problem = "expected a list"
    elif kind == "string_type":
        problem = f"expected a string, got {value!r}"
    else:
        problem = error["msg"]
    place = _place(loc)
    return f"{source}: {place}: {problem}" if place else f"{source}: {problem}"


__all__ = ["FIELDS", "TOPICS", "RulesError", "TermError", "check"]
