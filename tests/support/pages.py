"""HTML and XML for pages the recordings lack: new articles, feeds, sitemaps, category listings.

Article pages are rendered from a real recorded article, so a generated page carries the same
furniture (ticker, teasers, newsletter box, ad slot, nonce) as the recorded ones and goes through
the same extraction paths. Links are written against ``https://cphpost.dk``; the replay server
rewrites them to its own origin when it serves them, exactly as for the recorded files.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

LIVE = "https://cphpost.dk"
CET = timezone(timedelta(hours=1))  # the recordings write every time as +01:00
TEMPLATE_ARTICLE = (
    "articles/2023-05-22-number-of-rejected-asylum-seekers-earmarked-for-deportation-.html"
)
SECTION_LABELS = {
    "news": "News",
    "business": "Business",
    "life-in-denmark": "Life in Denmark",
    "art-culture": "Culture",
    "opinion": "Opinion",
    "general": "General",
}


def section_label(section: str) -> str:
    return SECTION_LABELS.get(section, section.replace("-", " ").title())


def slugify(text: str) -> str:
    """WordPress-style slug: ASCII, lower case, words joined by hyphens."""
    text = text.lower().replace("æ", "ae").replace("ø", "o").replace("å", "a")
    text = re.sub(r"['’‘]", "", unicodedata.normalize("NFKD", text))
    text = text.encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def display_date(when: datetime) -> str:
    """The site's date line: ``May 22nd, 2023``."""
    day = when.day
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{when:%B} {day}{suffix}, {when.year}"


def rfc822(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC), usegmt=True)


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass(frozen=True, slots=True)
class ArticleSpec:
    """What varies between two article pages; also the extraction a correct scraper returns.

    ``paragraphs`` are plain text; a ``"## "`` prefix makes one a subhead. ``related`` are READ
    MORE lines ``(path, text)`` placed after the third paragraph. ``migration`` is the ground
    truth for generated articles (None when unknown); it is not rendered.
    """

    path: str  # "/2025-06-01/news/some-slug/"
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    post_id: int
    section: str = "news"
    author: str = "The Copenhagen Post"
    standfirst: str = ""
    tags: tuple[str, ...] = ()
    related: tuple[tuple[str, str], ...] = ()
    modified: datetime | None = None
    migration: bool | None = None

    @property
    def url(self) -> str:
        return LIVE + self.path

    @property
    def slug(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def expected(self, origin: str = LIVE) -> dict[str, Any]:
        """Same shape as ``tests/fixtures/cphpost/expected/*.json``, URLs against ``origin``."""
        return {
            "url": origin + self.path,
            "title": self.title,
            "standfirst": self.standfirst,
            "author": self.author,
            "published": self.published.isoformat(),
            "section": self.section,
            "paywalled": False,
            "tags": list(self.tags),
            "post_id": self.post_id,
            "paragraphs": [p.removeprefix("## ") for p in self.paragraphs],
            "related_links": [text for _, text in self.related],
        }


# Each region of the recorded page that differs between articles: (placeholder, pattern whose
# group 1 is replaced). Several patterns may feed the same placeholder.
_REGIONS: tuple[tuple[str, str], ...] = (
    ("doc_title", r"<title>(.*?)</title>"),
    ("standfirst_attr", r'<meta name="description" content="([^"]*)"'),
    ("url", r'<link rel="canonical" href="([^"]*)"'),
    ("shortlink", r'<link rel="shortlink" href="([^"]*)"'),
    ("title_attr", r'<meta property="og:title" content="([^"]*)"'),
    ("standfirst_attr", r'<meta property="og:description" content="([^"]*)"'),
    ("url", r'<meta property="og:url" content="([^"]*)"'),
    ("image", r'<meta property="og:image" content="([^"]*)"'),
    ("published_iso", r'<meta property="article:published_time" content="([^"]*)"'),
    ("modified_iso", r'<meta property="article:modified_time" content="([^"]*)"'),
    ("author_attr", r'<meta name="author" content="([^"]*)"'),
    ("jsonld", r'<script type="application/ld\+json"[^>]*>(.*?)</script>'),
    ("body_class", r'<body class="([^"]*)"'),
    ("post_id", r'<article id="post-(\d+)"'),
    ("article_class", r'<article id="post-[^"]*" class="([^"]*)"'),
    ("categories", r'<div class="entry-categories">(.*?)</div>'),
    ("title_html", r'<h1 class="entry-title">(.*?)</h1>'),
    ("byline", r'<span class="author vcard">(.*?)</span>'),
    ("posted_on", r'<span class="posted-on">(.*?)</span>'),
    ("age_notice", r'(<p class="article-age-notice">.*?</p>\n)'),
    ("excerpt", r'<div class="entry-excerpt">(.*?)</div>'),
    ("figure", r'<figure class="post-thumbnail wp-caption">(.*?)</figure>'),
    ("content", r'<div class="entry-content">\n(.*?)</div>\n<footer class="entry-footer">'),
    ("tags", r'<span class="tags-links">(.*?)</span>'),
)
_MARK = "\x00"


class ArticleTemplate:
    """A recorded article page cut into literal parts and named holes; rendering is a join."""

    def __init__(self, page: str) -> None:
        for name, pattern in _REGIONS:

            def hole(m: re.Match[str], name: str = name) -> str:
                whole, start = m.group(0), m.start(0)
                return (
                    whole[: m.start(1) - start] + _MARK + name + _MARK + whole[m.end(1) - start :]
                )

            page, count = re.subn(pattern, hole, page, flags=re.S)
            if not count:
                raise ValueError(f"the template article has no {name!r} region ({pattern})")
        self._parts = page.split(_MARK)

    def render(self, spec: ArticleSpec, *, today: date | None = None) -> str:
        values = _article_values(spec, today or date.today())
        return "".join(values[p] if i % 2 else p for i, p in enumerate(self._parts))


@lru_cache(maxsize=4)
def article_template(fixtures_dir: Path) -> ArticleTemplate:
    return ArticleTemplate((fixtures_dir / TEMPLATE_ARTICLE).read_text(encoding="utf-8"))


def _article_values(spec: ArticleSpec, today: date) -> dict[str, str]:
    esc = html.escape
    modified = spec.modified or spec.published
    label = section_label(spec.section)
    standfirst = spec.standfirst
    author_slug = slugify(spec.author)
    image = (
        f"{LIVE}/wp-content/uploads/{spec.published:%Y/%m}/{spec.slug[:30].rstrip('-')}"
        "-1200x800.jpg"
    )
    tag_classes = "".join(f" tag-{slugify(t)}" for t in spec.tags)
    years = (today - spec.published.date()).days // 365
    age = (
        f'<p class="article-age-notice">This article is more than {years} '
        f"year{'s' if years > 1 else ''} old.</p>\n"
        if years >= 1
        else ""
    )
    body: list[str] = []
    for i, paragraph in enumerate(spec.paragraphs):
        if paragraph.startswith("## "):
            body.append(f"<h3>{esc(paragraph[3:], quote=False)}</h3>\n")
        else:
            body.append(f"<p>{esc(paragraph, quote=False)}</p>\n")
        if i == 1:
            body.append(
                f'<div class="ad-slot inline-ad" id="div-gpt-ad-{spec.post_id}-0" '
                'data-slot="article-inline"></div>\n'
            )
        if i == 2 or (i == len(spec.paragraphs) - 1 and i < 2):
            body.extend(
                f'<p><strong>READ MORE: <a href="{LIVE}{esc(path)}">'
                f"{esc(text, quote=False)}</a></strong></p>\n"
                for path, text in spec.related
            )
    tags = (
        "Tags: "
        + ", ".join(
            f'<a href="{LIVE}/tag/{slugify(t)}/" rel="tag">{esc(t, quote=False)}</a>'
            for t in spec.tags
        )
        if spec.tags
        else ""
    )
    jsonld = {
        "@context": "https://schema.org",
        "@graph": [
            {
                "@type": "NewsArticle",
                "@id": spec.url + "#article",
                "headline": spec.title,
                "description": standfirst,
                "datePublished": spec.published.isoformat(),
                "dateModified": modified.isoformat(),
                "author": {"@type": "Person", "name": spec.author},
                "publisher": {
                    "@type": "Organization",
                    "name": "The Copenhagen Post",
                    "url": LIVE + "/",
                },
                "mainEntityOfPage": spec.url,
                "articleSection": [label],
                "keywords": list(spec.tags),
                "inLanguage": "en-GB",
                "isAccessibleForFree": True,
            },
            {
                "@type": "BreadcrumbList",
                "itemListElement": [
                    {"@type": "ListItem", "position": 1, "name": "Home", "item": LIVE + "/"},
                    {
                        "@type": "ListItem",
                        "position": 2,
                        "name": label,
                        "item": f"{LIVE}/category/{spec.section}/",
                    },
                    {"@type": "ListItem", "position": 3, "name": spec.title},
                ],
            },
        ],
    }
    return {
        "doc_title": esc(spec.title, quote=False) + " - The Copenhagen Post",
        "standfirst_attr": esc(standfirst),
        "url": spec.url,
        "shortlink": f"{LIVE}/?p={spec.post_id}",
        "title_attr": esc(spec.title),
        "image": image,
        "published_iso": spec.published.isoformat(),
        "modified_iso": modified.isoformat(),
        "author_attr": esc(spec.author),
        "jsonld": json.dumps(jsonld, ensure_ascii=False).replace("</", "<\\/"),
        "body_class": (
            f"post-template-default single single-post postid-{spec.post_id} single-format-standard"
        ),
        "post_id": str(spec.post_id),
        "article_class": (
            f"post-{spec.post_id} post type-post status-publish format-standard "
            f"has-post-thumbnail hentry category-{spec.section}{tag_classes}"
        ),
        "categories": f'<a href="{LIVE}/category/{spec.section}/" rel="category tag">{label}</a>',
        "title_html": esc(spec.title, quote=False),
        "byline": (
            f'<a class="url fn n" href="{LIVE}/author/{author_slug}/">'
            f"{esc(spec.author, quote=False)}</a>"
        ),
        "posted_on": (
            f'<time class="entry-date published" datetime="{spec.published.isoformat()}">'
            f"{display_date(spec.published)}</time>"
            f'<time class="updated" datetime="{modified.isoformat()}">'
            f"{display_date(modified)}</time>"
        ),
        "age_notice": age,
        "excerpt": f"<p>{esc(standfirst, quote=False)}</p>",
        "figure": (
            f'<img src="{image}" alt="" width="1200" height="800" decoding="async">'
            '<figcaption class="wp-caption-text">Photo: Colourbox</figcaption>'
        ),
        "content": "".join(body),
        "tags": tags,
    }


# Feeds -------------------------------------------------------------------------------------

_FEED_HEAD = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
xmlns:content="http://purl.org/rss/1.0/modules/content/"
xmlns:wfw="http://wellformedweb.org/CommentAPI/"
xmlns:dc="http://purl.org/dc/elements/1.1/"
xmlns:atom="http://www.w3.org/2005/Atom"
xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
xmlns:slash="http://purl.org/rss/1.0/modules/slash/">
<channel>
<title>{title}</title>
<atom:link href="{live}{path}" rel="self" type="application/rss+xml" />
<link>{live}/</link>
<description>Denmark&#039;s English-language news</description>
<lastBuildDate>{built}</lastBuildDate>
<language>en-GB</language>
<sy:updatePeriod>hourly</sy:updatePeriod>
<sy:updateFrequency>1</sy:updateFrequency>
<generator>https://wordpress.org/?v=6.8.1</generator>
"""


def feed_item(spec: ArticleSpec) -> str:
    """One RSS ``<item>`` in the form WordPress writes (and the recorded feeds show)."""
    categories = "".join(
        f"<category>{_cdata(c)}</category>" for c in (section_label(spec.section), *spec.tags)
    )
    return (
        f"<item>\n<title>{xml_escape(spec.title)}</title>\n<link>{spec.url}</link>\n"
        f"<dc:creator>{_cdata(spec.author)}</dc:creator>\n"
        f"<pubDate>{rfc822(spec.published)}</pubDate>\n{categories}\n"
        f'<guid isPermaLink="false">{LIVE}/?p={spec.post_id}</guid>\n'
        f"<description>{_cdata(spec.standfirst)}</description>\n</item>\n"
    )


def feed_document(path: str, title: str, newest_first: Sequence[ArticleSpec]) -> str:
    built = rfc822(newest_first[0].published) if newest_first else rfc822(datetime.now(UTC))
    head = _FEED_HEAD.format(title=xml_escape(title), live=LIVE, path=path, built=built)
    return head + "".join(feed_item(s) for s in newest_first) + "</channel>\n</rss>\n"


_ITEM = re.compile(r"<item>.*?</item>\n?", re.S)


def feed_with_item(feed: str, spec: ArticleSpec, keep: int) -> str:
    """``feed`` with ``spec`` as its newest item, the oldest dropped beyond ``keep`` items."""
    item = feed_item(spec)
    first = feed.find("<item>")
    at = first if first >= 0 else feed.find("</channel>")
    if at < 0:
        raise ValueError("not an RSS feed: no <item> and no </channel>")
    feed = feed[:at] + item + feed[at:]
    items = list(_ITEM.finditer(feed))
    if len(items) > keep:
        feed = feed[: items[keep].start()] + feed[items[-1].end() :]
    return re.sub(
        r"<lastBuildDate>.*?</lastBuildDate>",
        f"<lastBuildDate>{rfc822(spec.published)}</lastBuildDate>",
        feed,
        count=1,
    )


# Sitemaps ----------------------------------------------------------------------------------

_XSL = (
    '<?xml-stylesheet type="text/xsl" '
    'href="//cphpost.dk/wp-content/plugins/wordpress-seo/css/main-sitemap.xsl"?>\n'
)
_URLSET_OPEN = (
    '<urlset xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1" '
    'xsi:schemaLocation="http://www.sitemaps.org/schemas/sitemap/0.9 '
    "http://www.sitemaps.org/schemas/sitemap/0.9/sitemap.xsd "
    "http://www.google.com/schemas/sitemap-image/1.1 "
    'http://www.google.com/schemas/sitemap-image/1.1/sitemap-image.xsd" '
    'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
)


def sitemap_url(path: str, lastmod: datetime) -> str:
    return (
        f"<url><loc>{LIVE}{xml_escape(path)}</loc><lastmod>{lastmod.isoformat()}</lastmod></url>\n"
    )


def urlset(entries: Iterable[tuple[str, datetime]]) -> str:
    urls = "".join(sitemap_url(path, when) for path, when in entries)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _XSL + _URLSET_OPEN + urls + "</urlset>\n"


def sitemap_index(entries: Iterable[tuple[str, datetime]]) -> str:
    maps = "".join(
        f"<sitemap><loc>{LIVE}{path}</loc><lastmod>{when.isoformat()}</lastmod></sitemap>\n"
        for path, when in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + _XSL
        + '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        + maps
        + "</sitemapindex>\n"
    )


# Listings ----------------------------------------------------------------------------------

_NAV = "".join(
    f'<li><a href="{LIVE}/category/{s}/">{section_label(s)}</a></li>'
    for s in ("news", "business", "life-in-denmark", "art-culture", "opinion")
)


def teaser(spec: ArticleSpec) -> str:
    """One archive-list entry as the recorded category pages show it."""
    esc = html.escape
    title, label = esc(spec.title), section_label(spec.section)
    return (
        f'<li><article class="teaser post-{spec.post_id}"><a class="teaser-image" '
        f'href="{spec.url}" title="{title}"><img src="{LIVE}/wp-content/uploads/x.jpg" '
        f'alt="{title}"></a><div class="teaser-categories">{label}</div>'
        f'<h3 class="teaser-title"><a href="{spec.url}">{esc(spec.title, quote=False)}</a></h3>'
        f'<div class="teaser-meta"><time datetime="{spec.published.isoformat()}">'
        f'{display_date(spec.published)}</time><span class="separator">·</span>'
        f'<span class="author">{esc(spec.author, quote=False)}</span></div>'
        f'<p class="teaser-excerpt">{esc(spec.standfirst, quote=False)}</p></article></li>\n'
    )


def listing_page(base: str, title: str, page: int, pages: int, specs: Sequence[ArticleSpec]) -> str:
    """Archive page ``page`` of ``pages`` under ``base`` (e.g. ``/category/news/``)."""

    def href(n: int) -> str:
        return f"{LIVE}{base}" if n == 1 else f"{LIVE}{base}page/{n}/"

    links = []
    if page > 1:
        links.append(f'<a class="prev page-numbers" href="{href(page - 1)}">Previous</a>')
    for n in sorted({1, page - 1, page, page + 1, pages} - {0, pages + 1}):
        if n == page:
            links.append(f'<span aria-current="page" class="page-numbers current">{n}</span>')
        else:
            links.append(f'<a class="page-numbers" href="{href(n)}">{n}</a>')
    if page < pages:
        links.append(f'<a class="next page-numbers" href="{href(page + 1)}">Next</a>')
    rel = (f'<link rel="prev" href="{href(page - 1)}">\n' if page > 1 else "") + (
        f'<link rel="next" href="{href(page + 1)}">\n' if page < pages else ""
    )
    name = html.escape(title)
    doc_title = f"{name} Archives" + (f" - Page {page} of {pages}" if page > 1 else "")
    body_class = "archive category" + (f" paged paged-{page}" if page > 1 else "")
    return (
        '<!DOCTYPE html>\n<html lang="en-GB">\n<head><meta charset="UTF-8">'
        f"<title>{doc_title} - The Copenhagen Post</title>\n"
        f'<link rel="canonical" href="{href(page)}">\n{rel}'
        f'<link rel="alternate" type="application/rss+xml" title="The Copenhagen Post &raquo; '
        f'{name} Feed" href="{LIVE}{base}feed/">\n</head>\n'
        f'<body class="{body_class}">\n<div id="page" class="site">\n'
        f'<header id="masthead" class="site-header"><nav class="main-navigation">'
        f'<ul class="menu">{_NAV}</ul></nav></header>\n'
        '<main id="primary" class="site-main">\n'
        f'<header class="page-header"><h1 class="page-title">{name}</h1></header>\n'
        '<ul class="post-list archive-list">\n' + "".join(teaser(s) for s in specs) + "</ul>\n"
        '<nav class="navigation pagination" aria-label="Posts"><div class="nav-links">'
        + "".join(links)
        + "</div></nav>\n</main>\n"
        '<footer id="colophon" class="site-footer"><p>&copy; 2026 The Copenhagen Post</p>'
        "</footer>\n</div></body></html>\n"
    )


def listing_with_teaser(page: str, spec: ArticleSpec) -> str:
    """A recorded or generated archive page with ``spec`` on top of its list."""
    marker = '<ul class="post-list archive-list">\n'
    at = page.find(marker)
    if at < 0:
        return page
    at += len(marker)
    return page[:at] + teaser(spec) + page[at:]


# Error and fault pages ----------------------------------------------------------------------


def not_found_page() -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en-GB">\n<head><meta charset="UTF-8">'
        "<title>Page not found - The Copenhagen Post</title></head>\n"
        '<body class="error404"><main id="primary" class="site-main">'
        '<h1 class="page-title">Oops! That page can&rsquo;t be found.</h1>'
        "<p>It looks like nothing was found at this location.</p></main></body></html>\n"
    )


def error_page(status: int) -> str:
    return (
        f"<!DOCTYPE html>\n<html><head><title>{status} Error</title></head>"
        f"<body><h1>{status} Error</h1><p>The server could not answer your request. "
        "Please try again later.</p><hr><address>nginx</address></body></html>\n"
    )


def maintenance_page() -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en-GB">\n<head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width">'
        "<title>Maintenance</title></head>\n<body>"
        "<h1>Briefly unavailable for scheduled maintenance. Check back in a minute.</h1>"
        "</body></html>\n"
    )


def front_page() -> str:
    """What a misrouted feed or sitemap request gets: the HTML front page."""
    return (
        '<!DOCTYPE html>\n<html lang="en-GB">\n<head><meta charset="UTF-8">'
        f"<title>The Copenhagen Post - Denmark&#039;s English-language news</title>"
        f'<link rel="canonical" href="{LIVE}/"></head>\n<body class="home blog">'
        f'<main id="primary" class="site-main"><h1>The Copenhagen Post</h1>'
        '<ul class="post-list"><li><a href="'
        f'{LIVE}/category/news/">News</a></li></ul></main></body></html>\n'
    )
