"""Decide whether an article version is about migration, which topics, and why.

The classifier is a transparent rule scorer: the rules (weighted terms and regular expressions
per topic, in English and Danish) live in ``monitor/rules/migration.toml``, which a user can
extend or replace. Every point of the score is traceable to an :class:`Evidence` entry, and the
verdict carries the :class:`Measures` that decided it (where the evidence sits, how much of the
text it covers), so an alert can say why it was sent. docs/classifier.md has the method.

Modules: ``results`` (the values), ``schema`` (the rules file's shape), ``terms`` and ``rules``
(loading and compiling), ``index`` (the prefilter), ``matching``, ``scoring``, ``evaluation``,
``crossval`` (cross-validation) and ``learned`` (a logistic alternative measured against the
rules, not used by :func:`classify`).
"""

from monitor.classify.evaluation import (
    Confusion,
    Evaluation,
    Label,
    Metrics,
    Mistake,
    evaluate,
    evaluate_labels,
)
from monitor.classify.results import Classification, Evidence, Focus, Measures
from monitor.classify.rules import Rules, load_rules
from monitor.classify.schema import FIELDS, TOPICS, RulesError
from monitor.classify.scoring import classify

__all__ = [
    "FIELDS",
    "TOPICS",
    "Classification",
    "Confusion",
    "Evaluation",
    "Evidence",
    "Focus",
    "Label",
    "Measures",
    "Metrics",
    "Mistake",
    "Rules",
    "RulesError",
    "classify",
    "evaluate",
    "evaluate_labels",
    "load_rules",
]
