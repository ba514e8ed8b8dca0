"""Learning where a redesigned site keeps the article body, from the articles it stored.

Site-independent: what is particular to a site (its own body container, its furniture, its
related-link lines, the text a page declares apart from its markup) comes through the
:class:`~scrapers.site.Redesign` its :class:`~scrapers.site.Site` offers as ``redesign``.

When the site's own body container is gone, the monitor still knows what the text of
each article it watches is (its latest version). :func:`learn` finds those paragraphs in the
new page and the element that holds them, and derives the smallest stable selector for it;
:func:`fit` learns which blocks inside it are not article text (they are not in the stored
version: age notice, captions, teasers, ads, the paywall box); :func:`confirm` accepts a
:class:`~scrapers.template.Template` only when it reproduces the stored text of several
articles exactly. Pure functions over page bytes, like the rest of ``scrapers/``.

The measure, for one page and one candidate container (``docs/redesign.md``):

- **found**: the share of the stored paragraphs that appear, exactly and in order, in the
  container (at least :data:`MIN_FOUND`);
- **share**: the share of the container's text that is stored text, once the blocks that can be
  excluded by a stable selector are (at least :data:`MIN_SHARE`);
- a template is accepted when extraction with it gives exactly the stored paragraphs and READ
  MORE links of :data:`CONFIRMATIONS` different articles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from scrapers.article import Article, clean_text
from scrapers.blocks import BLOCKS, template_bodies, text_blocks
from scrapers.site import Redesign, Site
from scrapers.template import Stored, Template

__all__ = [
    "CONFIRMATIONS",
    "MIN_FOUND",
    "MIN_SHARE",
    "Confirmed",
    "Evidence",
    "Fit",
    "Stored",
    "confirm",
    "fit",
    "learn",
    "refine",
    "reproduces",
]

MIN_FOUND = 0.9  # share of the stored paragraphs found in the container
MIN_SHARE = 0.9  # share of the container's text that is stored text, after exclusions
CONFIRMATIONS = 3  # articles whose stored text a template must reproduce exactly
PATH_STEPS = 3  # longest structural path (``main > div:nth-of-type(2) > div``) tried

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_VOLATILE = re.compile(r"\d{3,}")  # post-148207, div-gpt-ad-1234-0: differ from page to page
_ANCHORS = ("main", "article", "body")


@dataclass(frozen=True, slots=True)
class Evidence:
    """A page that failed for want of a body container, and its article's known text."""

    url: str
    page: bytes | str
    stored: Stored
    origin: str  # the site's origin the page was fetched from (the live site or a mirror)


@dataclass(frozen=True, slots=True)
class Fit:
    """How well a body (selectors) explains one page's stored text, and what to exclude."""

    template: Template
    found: float
    share: float
    exact: bool  # extraction with ``template`` gives exactly the stored text

    @property
    def confident(self) -> bool:
        return self.found >= MIN_FOUND and self.share >= MIN_SHARE


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A template that reproduces the stored text of ``urls`` exactly."""

    template: Template
    urls: tuple[str, ...]


# --- one page -----------------------------------------------------------------------------


def learn(site: Site, evidence: Evidence) -> Fit | None:
    """The template this page suggests, or None when no container explains its stored text.

    Candidates, best first: the one element holding the stored paragraphs; else its children
    that hold them (a body split across sibling containers).
    """
    if not evidence.stored.paragraphs:
        return None
    rules = _rules(site)
    tree = rules.parse(evidence.page)
    if tree is None or tree.body is None or rules.own_body(tree) is not None:
        return None  # not a redesign: the site's own container is there
    rules.strip_furniture(tree.body)
    blocks = [(node, clean_text(text)) for node, text in text_blocks(tree.body)]
    wanted = [clean_text(p) for p in evidence.stored.paragraphs]
    kept = [blocks[i][0] for i in _aligned([t for _, t in blocks], wanted)]
    holder = _holder(kept, len(wanted))
    if holder is None:
        return None
    candidates = [body for body in (_single(tree, holder), _split(tree, holder, kept)) if body]
    fits = [f for f in (fit(site, evidence, b) for b in candidates) if f and f.confident]
    return max(fits, key=lambda f: (f.exact, f.share, f.found)) if fits else None


def fit(site: Site, evidence: Evidence, body: tuple[str, ...]) -> Fit | None:
    """How well the containers ``body`` names explain the page's stored text.

    Every block in them that is not stored text is excluded by the stable selector of the
    largest element around it that holds no stored text; a block without one stays, and
    lowers the share.
    """
    rules = _rules(site)
    tree = rules.parse(evidence.page)
    bodies = template_bodies(tree, Template(body)) if tree is not None else []
    if not bodies:
        return None
    for node in bodies:
        rules.strip_furniture(node)
    blocks = [
        (node, clean_text(text))
        for container in bodies
        for node, text in text_blocks(container)
        if not rules.is_related(text)
    ]
    wanted = [clean_text(p) for p in evidence.stored.paragraphs]
    kept_at = set(_aligned([t for _, t in blocks], wanted))
    kept = {blocks[i][0].mem_id for i in kept_at}
    exclude: set[str] = set()
    stored_chars = loose_chars = 0
    for i, (node, text) in enumerate(blocks):
        if i in kept_at:
            stored_chars += len(text)
            continue
        selector = _exclusion(node, bodies, kept)
        if selector is None:
            loose_chars += len(text)
        else:
            exclude.add(selector)
    template = Template(body, tuple(sorted(exclude)))
    found = len(kept_at) / len(wanted) if wanted else 0.0
    share = stored_chars / (stored_chars + loose_chars) if stored_chars else 0.0
    return Fit(template, found, share, reproduces(site, evidence, template))


def reproduces(site: Site, evidence: Evidence, template: Template) -> bool:
    """Whether extraction with ``template`` gives exactly the stored paragraphs and links."""
    page = site.extract(evidence.page, evidence.url, evidence.origin, None, template)
    if not isinstance(page, Article):
        return False
    stored = evidence.stored
    return _cleaned(page.paragraphs) == _cleaned(stored.paragraphs) and _cleaned(
        page.related_links
    ) == _cleaned(stored.related_links)


# --- several pages ------------------------------------------------------------------------


def confirm(
    site: Site, evidence: Sequence[Evidence], needed: int = CONFIRMATIONS
) -> Confirmed | None:
    """A template that reproduces the stored text of at least ``needed`` articles exactly.

    Each page proposes a body; the most proposed first, each gets the exclusions every page
    needs under it (the paywall box of a premium page, the caption of another), and is accepted
    when ``needed`` different articles then extract exactly as stored.
    """
    latest = {ev.url: ev for ev in evidence}  # one vote per article, its latest page
    votes: dict[tuple[str, ...], int] = {}
    for ev in latest.values():
        learned = learn(site, ev)
        if learned is not None:
            votes[learned.template.body] = votes.get(learned.template.body, 0) + 1
    for body in sorted(votes, key=lambda b: -votes[b]):
        if votes[body] * 2 < needed:
            break  # too few proposers to be worth testing on every page
        template = _with_exclusions(site, body, latest.values())
        agreeing = tuple(url for url, ev in latest.items() if reproduces(site, ev, template))
        if len(agreeing) >= needed:
            return Confirmed(template, agreeing)
    return None


def refine(site: Site, evidence: Evidence, template: Template) -> Template | None:
    """``template`` with the exclusions this known article needs, when they make it extract
    exactly as stored (a premium page's paywall box, first seen after the template was
    learned); None when no exclusion does (then the text really changed)."""
    learned = fit(site, evidence, template.body)
    if learned is None:
        return None
    merged = Template(template.body, tuple(sorted({*template.exclude, *learned.template.exclude})))
    return merged if merged != template and reproduces(site, evidence, merged) else None


def _with_exclusions(site: Site, body: tuple[str, ...], evidence: Iterable[Evidence]) -> Template:
    exclude: set[str] = set()
    for ev in evidence:
        learned = fit(site, ev, body)
        if learned is not None and learned.confident:
            exclude.update(learned.template.exclude)
    return Template(body, tuple(sorted(exclude)))


# --- helpers ------------------------------------------------------------------------------


def _rules(site: Site) -> Redesign:
    rules = site.redesign
    if rules is None:
        raise ValueError(f"site {site.name!r} offers no template learning (its redesign is None)")
    return rules


def _cleaned(texts: Iterable[str]) -> list[str]:
    return [t for t in (clean_text(t) for t in texts) if t]


def _aligned(texts: list[str], wanted: list[str]) -> list[int]:
    """Indices of ``texts`` that are the ``wanted`` paragraphs, matched in order."""
    matcher = SequenceMatcher(None, texts, wanted, autojunk=False)
    return [i for a, _b, size in matcher.get_matching_blocks() for i in range(a, a + size)]


def _ancestors(node: LexborNode) -> Iterator[LexborNode]:
    parent = node.parent
    while parent is not None and parent.tag not in ("html", "-document"):
        yield parent
        parent = parent.parent


def _holder(kept: list[LexborNode], wanted: int) -> LexborNode | None:
    """The deepest element holding at least :data:`MIN_FOUND` of the stored paragraphs."""
    count: dict[int, int] = {}
    nodes: dict[int, tuple[int, LexborNode]] = {}
    for block in kept:
        for depth, node in enumerate(reversed(list(_ancestors(block)))):
            count[node.mem_id] = count.get(node.mem_id, 0) + 1
            nodes[node.mem_id] = (depth, node)
    qualified = [nodes[key] for key, n in count.items() if n >= MIN_FOUND * wanted]
    return max(qualified, key=lambda pair: pair[0])[1] if qualified else None


def _single(tree: LexborHTMLParser, holder: LexborNode) -> tuple[str, ...] | None:
    selector = _unique_selector(tree, holder)
    return (selector,) if selector else None


def _split(
    tree: LexborHTMLParser, holder: LexborNode, kept: list[LexborNode]
) -> tuple[str, ...] | None:
    """Selectors of the holder's children that hold stored paragraphs, when there are several:
    one shared class when it names exactly them, else one selector each."""
    kept_ids = {node.mem_id for node in kept}
    parts = [child for child in _children(holder) if _holds(child, kept_ids)]
    if len(parts) < 2:
        return None
    ids = [part.mem_id for part in parts]
    if len({part.tag for part in parts}) == 1:
        shared = set.intersection(*(set(_classes(part)) for part in parts))
        for cls in sorted(shared):
            selector = f"{parts[0].tag}.{cls}"
            if _matches(tree, selector) == ids:
                return (selector,)
    selectors = [_unique_selector(tree, part) for part in parts]
    return tuple(s for s in selectors if s) if all(selectors) else None


def _children(node: LexborNode) -> Iterator[LexborNode]:
    child = node.child
    while child is not None:
        if child.is_element_node:
            yield child
        child = child.next


def _holds(node: LexborNode, ids: set[int]) -> bool:
    return node.mem_id in ids or any(n.mem_id in ids for n in node.css(BLOCKS))


def _classes(node: LexborNode) -> list[str]:
    value = node.attributes.get("class") or ""
    return [c for c in value.split() if _NAME.match(c) and not _VOLATILE.search(c)]


def _own_selectors(node: LexborNode) -> list[str]:
    """Stable selectors of the element itself, smallest first: a class, the classes, the id,
    ``itemprop``. Names that carry a number (post ids, ad slot ids) are not stable."""
    tag = node.tag or ""
    classes = _classes(node)
    selectors = [f"{tag}.{cls}" for cls in classes]
    if len(classes) > 1:
        selectors.append(tag + "".join(f".{cls}" for cls in classes))
    ident = node.attributes.get("id") or ""
    if _NAME.match(ident) and not _VOLATILE.search(ident):
        selectors.append(f"{tag}#{ident}")
    prop = node.attributes.get("itemprop") or ""
    if _NAME.match(prop):
        selectors.append(f'{tag}[itemprop="{prop}"]')
    return selectors


def _matches(tree: LexborHTMLParser | LexborNode, selector: str) -> list[int]:
    try:
        return [node.mem_id for node in tree.css(selector)]
    except SelectolaxError:
        return []


def _unique_selector(tree: LexborHTMLParser, node: LexborNode) -> str | None:
    """The smallest selector that names ``node`` alone: its own, else a short path from the
    nearest ancestor that has one (or ``main``/``article``/``body``)."""
    for selector in _own_selectors(node):
        if _matches(tree, selector) == [node.mem_id]:
            return selector
    steps: list[str] = []
    current = node
    for _ in range(PATH_STEPS):
        parent = current.parent
        if parent is None or parent.tag in ("html", "-document"):
            return None
        steps.insert(0, f"{current.tag}:nth-of-type({_nth_of_type(current)})")
        anchors = _own_selectors(parent) + ([parent.tag or ""] if parent.tag in _ANCHORS else [])
        for anchor in anchors:
            if _matches(tree, anchor) == [parent.mem_id]:
                selector = " > ".join([anchor, *steps])
                if _matches(tree, selector) == [node.mem_id]:
                    return selector
        current = parent
    return None


def _nth_of_type(node: LexborNode) -> int:
    index = 1
    sibling = node.prev
    while sibling is not None:
        if sibling.is_element_node and sibling.tag == node.tag:
            index += 1
        sibling = sibling.prev
    return index


def _exclusion(node: LexborNode, bodies: list[LexborNode], kept: set[int]) -> str | None:
    """The stable selector of the largest element around ``node`` (inside the body) that holds
    no stored paragraph and names no element that does; None when there is none."""
    body_ids = {body.mem_id for body in bodies}
    best: str | None = None
    current: LexborNode | None = node
    while current is not None and current.mem_id not in body_ids:
        if _holds(current, kept):
            break
        for selector in _own_selectors(current):
            if not any(_names_kept(body, selector, kept) for body in bodies):
                best = selector
                break
        current = current.parent
    return best


def _names_kept(body: LexborNode, selector: str, kept: set[int]) -> bool:
    try:
        matches = body.css(selector)
    except SelectolaxError:
        return True
    return any(_holds(match, kept) for match in matches)
