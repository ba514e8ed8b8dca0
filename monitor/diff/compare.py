"""Comparing two versions field by field: :func:`diff_articles` and :func:`lifecycle`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from monitor.diff.model import ChangeKind, Diff, FieldChange, Significance
from monitor.diff.rating import (
    LazyNames,
    adds_correction,
    cosmetic_reason,
    is_correction_notice,
    listing,
    rate_text,
)
from monitor.diff.text import align_paragraphs, article_paragraphs, clean, count_noun, fold
from scrapers.article import Article


def _runs(paragraphs: Sequence[str]) -> list[tuple[bool, tuple[str, ...]]]:
    """Consecutive paragraphs grouped by 'is a correction notice'."""
    runs: list[tuple[bool, tuple[str, ...]]] = []
    for p in paragraphs:
        flag = is_correction_notice(p)
        if runs and runs[-1][0] == flag:
            runs[-1] = (flag, (*runs[-1][1], p))
        else:
            runs.append((flag, (p,)))
    return runs


def _body_changes(old: Article, new: Article, names: Iterable[str]) -> list[FieldChange]:
    changes: list[FieldChange] = []
    for seg in align_paragraphs(article_paragraphs(old), article_paragraphs(new)):
        if seg.op == "edit":
            o, n = seg.old[0], seg.new[0]
            sig, detail = rate_text(o, n, names)
            if sig > Significance.COSMETIC and adds_correction(o, n):
                changes.append(
                    FieldChange(
                        ChangeKind.CORRECTION,
                        Significance.SUBSTANTIVE,
                        o,
                        n,
                        "correction notice added",
                    )
                )
            elif sig:
                changes.append(FieldChange(ChangeKind.BODY, sig, o, n, detail))
        elif seg.op == "added":
            for correction, run in _runs(seg.new):
                text = "\n\n".join(run)
                if correction:
                    changes.append(
                        FieldChange(
                            ChangeKind.CORRECTION,
                            Significance.SUBSTANTIVE,
                            "",
                            text,
                            "correction notice added",
                        )
                    )
                else:
                    changes.append(_whole("", text, count_noun(len(run), "paragraph") + " added"))
        elif seg.op == "removed":
            text = "\n\n".join(seg.old)
            changes.append(_whole(text, "", count_noun(len(seg.old), "paragraph") + " removed"))
    return changes


def _whole(old: str, new: str, detail: str) -> FieldChange:
    """Paragraphs that came or went: sentences added or removed, unless they hold no words."""
    if fold(old) == fold(new):
        return FieldChange(ChangeKind.BODY, Significance.COSMETIC, old, new, "punctuation only")
    return FieldChange(ChangeKind.BODY, Significance.SUBSTANTIVE, old, new, detail)


# --- the other fields ---------------------------------------------------------------------


def _text_change(
    kind: ChangeKind, old: str, new: str, names: Iterable[str], floor: Significance | None = None
) -> list[FieldChange]:
    o, n = clean(old), clean(new)
    sig, detail = rate_text(o, n, names)
    if not sig:
        return []
    if floor is not None and sig > Significance.COSMETIC:
        sig = max(sig, floor)
    if kind is ChangeKind.HEADLINE and sig > Significance.COSMETIC:
        # The number/name/quote rules describe body sentences; a headline is short enough to
        # show whole, and "number changed: 1 → 3" misdescribes a rewritten one.
        detail = f"headline changed: '{o}' → '{n}'"
    return [FieldChange(kind, sig, o, n, detail)]


def _byline_change(old: str, new: str) -> list[FieldChange]:
    o, n = clean(old), clean(new)
    if o == n:
        return []
    cosmetic = cosmetic_reason(o, n)
    if cosmetic:
        return [FieldChange(ChangeKind.BYLINE, Significance.COSMETIC, o, n, cosmetic)]
    detail = f"byline changed: {o or '(none)'} → {n or '(none)'}"
    return [FieldChange(ChangeKind.BYLINE, Significance.MINOR, o, n, detail)]


def _iso(when: datetime | None) -> str:
    return when.isoformat() if when is not None else ""


def _dates_change(old: datetime | None, new: datetime | None) -> list[FieldChange]:
    """Only ``published``: ``modified`` bumps on saves that change nothing."""
    o, n = _iso(old), _iso(new)
    if o == n:
        return []
    if old is not None and new is not None and _same_instant(old, new):
        detail = "published: same time, other time zone"
        return [FieldChange(ChangeKind.DATES, Significance.COSMETIC, o, n, detail)]
    detail = f"published changed: {o or '(none)'} → {n or '(none)'}"
    return [FieldChange(ChangeKind.DATES, Significance.MINOR, o, n, detail)]


def _same_instant(a: datetime, b: datetime) -> bool:
    if (a.tzinfo is None) != (b.tzinfo is None):
        return False
    return a == b


def _tags_change(old: Sequence[str], new: Sequence[str]) -> list[FieldChange]:
    """Tags as a set, case-folded (as in the fingerprint)."""
    a = {clean(t).casefold(): clean(t) for t in old if clean(t)}
    b = {clean(t).casefold(): clean(t) for t in new if clean(t)}
    added = [b[k] for k in b if k not in a]
    removed = [a[k] for k in a if k not in b]
    if not added and not removed:
        return []
    parts = [f"tags added: {', '.join(added)}"] if added else []
    parts += [f"tags removed: {', '.join(removed)}"] if removed else []
    return [
        FieldChange(
            ChangeKind.TAGS,
            Significance.MINOR,
            ", ".join(a.values()),
            ", ".join(b.values()),
            "; ".join(parts),
        )
    ]


def related_change(old: Sequence[str], new: Sequence[str]) -> list[FieldChange]:
    a = [t for t in (clean(x) for x in old) if t]
    b = [t for t in (clean(x) for x in new) if t]
    if a == b:
        return []
    o, n = "\n".join(a), "\n".join(b)
    if [fold(x) for x in a] == [fold(x) for x in b]:
        reason = cosmetic_reason(o, n) or "punctuation only"
        return [FieldChange(ChangeKind.RELATED, Significance.COSMETIC, o, n, reason)]
    fa, fb = {fold(x) for x in a}, {fold(x) for x in b}
    added = [x for x in b if fold(x) not in fa]
    removed = [x for x in a if fold(x) not in fb]
    parts = [f"READ MORE added: {listing(added)}"] if added else []
    parts += [f"READ MORE removed: {listing(removed)}"] if removed else []
    detail = "; ".join(parts) or "READ MORE links reworded or reordered"
    return [FieldChange(ChangeKind.RELATED, Significance.MINOR, o, n, detail)]


def paywall_label(paywalled: bool) -> str:
    return "premium" if paywalled else "free"


# --- the API ------------------------------------------------------------------------------


def diff_articles(old: Article | None, new: Article) -> Diff:
    """Every change from ``old`` to ``new``; ``old`` None means a new article.

    When the paywall flips, the body and READ MORE links are not compared: a premium page shows
    only a teaser, and that must read as 'free → premium', never as 'body deleted'. Headline,
    standfirst, byline, date and tags are still compared.
    """
    if old is None:
        title = clean(new.title)
        return Diff(
            (FieldChange(ChangeKind.NEW, Significance.SUBSTANTIVE, "", title, "new article"),)
        )
    names = LazyNames([old.standfirst, *old.paragraphs, new.standfirst, *new.paragraphs])
    changes = [
        *_text_change(ChangeKind.HEADLINE, old.title, new.title, names, Significance.SUBSTANTIVE),
        *_text_change(ChangeKind.STANDFIRST, old.standfirst, new.standfirst, names),
        *_byline_change(old.author, new.author),
        *_dates_change(old.published, new.published),
    ]
    if old.paywalled != new.paywalled:
        o, n = paywall_label(old.paywalled), paywall_label(new.paywalled)
        changes.append(
            FieldChange(ChangeKind.PAYWALL, Significance.SUBSTANTIVE, o, n, f"{o} → {n}")
        )
    else:
        changes += _body_changes(old, new, names)
        changes += related_change(old.related_links, new.related_links)
    changes += _tags_change(old.tags, new.tags)
    return Diff(tuple(changes))


_LIFECYCLE_DETAIL = {
    ChangeKind.DELETED: "article deleted (404/410 confirmed)",
    ChangeKind.RESTORED: "article restored",
}


def lifecycle(
    kind: Literal[ChangeKind.DELETED, ChangeKind.RESTORED], detail: str | None = None
) -> Diff:
    """A one-change Diff for the store's state transitions (gone, back again)."""
    if kind not in _LIFECYCLE_DETAIL:
        raise ValueError(f"lifecycle() takes deleted or restored, not {kind!r}")
    text = detail if detail is not None else _LIFECYCLE_DETAIL[kind]
    return Diff((FieldChange(kind, Significance.SUBSTANTIVE, "", "", text),))
