"""Which tracked article a fetched page is: a permanent redirect moves an article (it keeps
its history), and a new URL whose page carries a tracked article's post id is that article."""

from __future__ import annotations

import logging

from sqlalchemy import text, update
from sqlmodel import Session, col, select

from monitor.fetch import FetchResult
from monitor.models import Article, UrlAlias
from monitor.settings import Settings
from monitor.store import add_alias, find_article
from scrapers.article import Article as Page

log = logging.getLogger(__name__)

OTHER_WITH_POST_ID = text(
    "SELECT 1 FROM article WHERE post_id = :post_id AND id != :id"
    " AND current_version_id IS NOT NULL LIMIT 1"
)


def follow_move(db: Session, article: Article, result: FetchResult, settings: Settings) -> None:
    """A permanent redirect to another article URL: the article moved and keeps its history."""
    if not result.permanent_redirect:
        return
    target = settings.scraper.canonicalize(result.final_url, settings.site_url)
    if not target or target == article.url:
        return
    other = find_article(db, target)
    if other is not None and other.id != article.id:
        return  # already tracked under the new URL: leave both, the alias table links them
    add_alias(db, article.url, article.id or 0)
    log.info("article moved: %s -> %s", article.url, target)
    article.url = target


def same_story(
    db: Session, article: Article, page: Page, final_url: str, settings: Settings
) -> Article:
    """The tracked article this first fetch is another URL of, else ``article`` itself.

    A URL never recorded whose page carries the post id of an article already tracked under
    another URL (the slug changed and a feed listed the new URL before the old one's re-check
    followed its 301) is that article: the new row goes, both URLs lead to the tracked article,
    which now lives at the URL that served the page and keeps its history (one story, one alert).
    """
    if article.current_version_id is not None or not page.post_id:
        return article
    params = {"post_id": page.post_id, "id": article.id}
    if db.connection().execute(OTHER_WITH_POST_ID, params).first() is None:
        return article  # the usual case, answered without loading (and locking) an article
    query = (
        select(Article)
        .where(Article.post_id == page.post_id, col(Article.id) != article.id)
        .where(col(Article.current_version_id).is_not(None))
        .order_by(col(Article.id))
        .with_for_update()
    )
    original = db.exec(query).first()
    if original is None:
        return article
    db.execute(
        update(UrlAlias)
        .where(col(UrlAlias.article_id) == article.id)
        .values(article_id=original.id)
    )
    db.delete(article)
    db.flush()
    here = settings.scraper.canonicalize(final_url, settings.site_url) or article.url
    taken = db.exec(select(Article).where(Article.url == here)).first()
    if taken is not None and taken.id != original.id:
        here = original.url
    for url in {article.url, original.url} - {here}:
        add_alias(db, url, original.id or 0)
    log.info("same story: %s is %s, now at %s", article.url, original.url, here)
    original.url = here
    original.lease_owner, original.lease_expires = article.lease_owner, article.lease_expires
    return original
