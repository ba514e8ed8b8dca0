"""Turning an article's hits into a verdict: evidence weights, the measures of what the article
is about, relevance from where the evidence sits, and the topics it substantially discusses.

* each matched term contributes ``weight x field weight x (1 + ln count)`` per field; body
  evidence is damped for long bodies; the field's contribution is shared out over the segments
  it was found in (lead = the first ``lead_paragraphs`` body paragraphs, rest);
* *core* terms are migration policy/process vocabulary; *weak* terms (population words,
  figures, political context) count only once core evidence reaches ``core_minimum``;
* relevance is decided by the focus (:class:`Focus`): a headline about migration that the body
  takes up, or a body whose lead or share of paragraphs is about migration; mentions in passing
  and one item of a news-in-brief roundup are not relevant;
* a topic is reported when its score reaches the thresholds and the article discusses it
  substantially: in the headline, or in ``topic_coverage`` of the body paragraphs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from monitor.classify.matching import Hit, Matched, match_article
from monitor.classify.results import Classification, Evidence, Focus, Measures
from monitor.classify.rules import Rules, Scoring, packaged_rules
from monitor.classify.schema import FIELDS, TOPICS

SEGMENT_ORDER = ("title", "standfirst", "lead", "rest")
# Weak terms of these topics are context (figures, governments, parties), not population or
# process words: they add to a score but do not make a paragraph one that is about migration.
CONTEXT_TOPICS = frozenset({"immigration_statistics", "immigration_politics"})
MARKER_WEIGHT = 1.0  # a weak term at least this strong marks its paragraph as about migration
_HEADING = re.compile(r"[^.!?:;,\"'”)\]]$")


class _Scored(NamedTuple):
    hit: Hit
    segment: str
    weight: float


def _segment(hit: Hit, lead_paragraphs: int) -> str:
    if hit.field != "body":
        return hit.field
    return "lead" if hit.paragraph < lead_paragraphs else "rest"


def _weigh(matched: Matched, sc: Scoring) -> list[_Scored]:
    """Each hit with its share of its term's field weight (so the field's total is
    ``weight x field weight x (1 + ln n) x damping`` whatever the segments)."""
    words = matched.words
    damping = {"title": 1.0, "standfirst": 1.0}
    damping["body"] = min(1.0, math.sqrt(sc.body_norm_words / words)) if words else 1.0
    counts: dict[tuple[int, str], int] = {}
    for hit in matched.hits:
        counts[(id(hit.term), hit.field)] = counts.get((id(hit.term), hit.field), 0) + 1
    out = []
    for hit in matched.hits:
        n = counts[(id(hit.term), hit.field)]
        total = hit.term.weight * sc.field_weights[hit.field] * (1 + math.log(n))
        out.append(_Scored(hit, _segment(hit, sc.lead_paragraphs), total * damping[hit.field] / n))
    return out


def _evidence(scored: Sequence[_Scored]) -> list[Evidence]:
    """One entry per (term, segment): the most common surface, count, weight, paragraphs."""
    groups: dict[tuple[int, str], list[_Scored]] = {}
    for s in scored:
        groups.setdefault((id(s.hit.term), s.segment), []).append(s)
    out = []
    for items in groups.values():
        surfaces: dict[str, int] = {}
        for s in items:
            surfaces[s.hit.surface] = surfaces.get(s.hit.surface, 0) + 1
        surface = max(surfaces, key=lambda k: surfaces[k])  # first most common, as Counter
        first = items[0]
        paragraphs = len({s.hit.paragraph for s in items if s.hit.paragraph >= 0})
        out.append(
            Evidence(
                first.hit.term.topic,
                surface,
                first.hit.field,
                len(items),
                sum(s.weight for s in items),
                first.segment,
                paragraphs,
            )
        )
    return out


def _is_marker(s: _Scored) -> bool:
    term = s.hit.term
    if term.tier == "core":
        return True
    return term.topic not in CONTEXT_TOPICS and term.weight >= MARKER_WEIGHT


def _items(paragraphs: Sequence[str]) -> list[int]:
    """The item each body paragraph belongs to: a new item starts after a heading-like line
    (short, no closing punctuation) that is followed by text."""
    item, out = 0, []
    for i, para in enumerate(paragraphs):
        heading = len(para.split()) <= 8 and bool(_HEADING.search(para))
        if heading and i + 1 < len(paragraphs) and i > 0:
            item += 1
        out.append(item)
    return out


def _measures(
    matched: Matched, counted: Sequence[_Scored], rules: Rules, gate: bool
) -> tuple[Measures, set[str]]:
    sc = rules.scoring
    markers = [s for s in counted if _is_marker(s)]
    core = {seg: 0.0 for seg in SEGMENT_ORDER}
    for s in markers:
        core[s.segment] += s.weight
    paras = {s.hit.paragraph for s in markers if s.hit.paragraph >= 0}
    sentences = {s.hit.sentence for s in markers if s.hit.sentence >= 0}
    n_paras = len(matched.paragraphs)
    topic_paras: dict[str, set[int]] = {}
    headline_weight: dict[str, float] = {}
    for s in counted:
        topic = s.hit.term.topic
        if s.hit.paragraph >= 0:
            topic_paras.setdefault(topic, set()).add(s.hit.paragraph)
        else:
            headline_weight[topic] = headline_weight.get(topic, 0.0) + s.weight
    headline_topics = {t for t, w in headline_weight.items() if w >= sc.headline_minimum}
    titled = any(r.search(matched.title) for r in rules.roundup_titles)
    # Items matter only for a roundup title or a headline without evidence (else: not a list).
    needed = titled or (paras and core["title"] + core["standfirst"] == 0)
    items = _items(matched.paragraphs) if needed else []
    n_items = items[-1] + 1 if items else 0
    roundup = titled or n_items >= sc.roundup_items
    headline = core["title"] + core["standfirst"]
    evidence_items = len({items[p] for p in paras}) if roundup else 0
    if not counted or not gate:
        focus = Focus.NONE if not counted else Focus.PASSING
    elif roundup and n_items >= sc.roundup_items and 2 * evidence_items < n_items:
        focus = Focus.ROUNDUP_ITEM
    elif headline >= sc.headline_minimum:
        # A short item: the headline carries it and a lead paragraph takes it up (issue 22).
        followed = (
            len(paras) >= 2
            or n_paras <= 1
            or core["lead"] > 0
            or len(paras) / n_paras >= sc.headline_coverage
        )
        focus = Focus.HEADLINE if followed else Focus.HEADLINE_ONLY
    elif n_paras and len(paras) / n_paras >= sc.passing_coverage:
        focus = Focus.BODY
    else:
        focus = Focus.PASSING
    measures = Measures(
        focus=focus,
        headline=round(headline, 2),
        lead=round(core["lead"], 2),
        rest=round(core["rest"], 2),
        paragraphs=n_paras,
        evidence_paragraphs=len(paras),
        sentences=matched.sentences,
        evidence_sentences=len(sentences),
        words=matched.words,
        items=n_items if roundup else 0,
        evidence_items=evidence_items,
        topics={
            t: round(len(p) / n_paras, 3)
            for t, p in sorted(topic_paras.items(), key=lambda kv: TOPICS.index(kv[0]))
        },
    )
    return measures, headline_topics


def classify(
    title: str,
    standfirst: str,
    body: str | Sequence[str],
    rules: Rules | None = None,
) -> Classification:
    """Classify one article version (pure; ``rules`` default to the packaged rules)."""
    rules = rules or packaged_rules()
    return decide(match_article(title, standfirst, body, rules), rules)


def decide(matched: Matched, rules: Rules) -> Classification:
    """The verdict on an article's hits. Separate from matching so that scoring settings can be
    tried on the same matches (cross-validation): matching depends only on the terms."""
    sc = rules.scoring
    scored = _weigh(matched, sc)
    core = sum(s.weight for s in scored if s.hit.term.tier == "core")
    # A headline whose population words alone reach the relevance threshold, taken up by the
    # body, opens the gate when some policy vocabulary is present at all: a short item carried
    # by its headline has little of it (a story about refugees of a 1937 war has none).
    headline = sum(s.weight for s in scored if s.hit.field != "body" and _is_marker(s))
    followed = any(s.hit.field == "body" and _is_marker(s) for s in scored)
    gate = core >= sc.core_minimum or (core > 0 and headline >= sc.relevance_threshold and followed)
    counted = [s for s in scored if s.hit.term.tier == "core" or gate]
    score = sum(s.weight for s in counted)
    measures, headline_topics = _measures(matched, counted, rules, gate)
    if measures.focus in (Focus.HEADLINE, Focus.BODY) and score < sc.relevance_threshold:
        measures = replace(measures, focus=Focus.WEAK)
    relevant = measures.focus in (Focus.HEADLINE, Focus.BODY)

    evidence = _evidence(counted)
    topic_scores: dict[str, float] = {}
    for ev in evidence:
        topic_scores[ev.topic] = topic_scores.get(ev.topic, 0.0) + ev.weight
    topics: dict[str, float] = {}
    if relevant and topic_scores:
        best = max(topic_scores.values())
        floor = max(sc.topic_threshold, sc.topic_relative * best)
        ranked = sorted(topic_scores.items(), key=lambda kv: (-kv[1], TOPICS.index(kv[0])))
        topics = {
            t: round(s, 2)
            for t, s in ranked
            if s >= floor
            and (t in headline_topics or measures.topics.get(t, 0.0) >= sc.topic_coverage)
        } or {ranked[0][0]: round(ranked[0][1], 2)}
    ordered = sorted(
        evidence,
        key=lambda e: (
            -round(e.weight, 3),
            TOPICS.index(e.topic),
            FIELDS.index(e.field),
            SEGMENT_ORDER.index(e.segment),
        ),
    )
    return Classification(
        relevant,
        round(score, 2),
        topics,
        tuple(
            Evidence(e.topic, e.term, e.field, e.count, round(e.weight, 3), e.segment, e.paragraphs)
            for e in ordered
        ),
        measures,
    )


__all__ = ["classify", "decide"]
