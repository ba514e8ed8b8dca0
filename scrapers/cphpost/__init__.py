"""The Copenhagen Post (cphpost.dk): URL rules, discovery and article extraction.

Pure functions: callers pass bytes and URLs in and get values back; nothing here touches the
network, a database or a clock. ``site`` is the origin being watched (the live site or a mirror).
"""

from scrapers.cphpost.discover import (
    parse_feed,
    parse_listing,
    parse_sitemap,
    parse_sitemap_index,
)
from scrapers.cphpost.extract import extract
from scrapers.cphpost.urls import (
    DEFAULT_SITE,
    canonicalize,
    is_article_url,
    old_site_post_id,
    same_site,
    section_of,
    shortlink_post_id,
)
from scrapers.site import DiscoveryError, Listing, SitemapRef

__all__ = [
    "DEFAULT_SITE",
    "SITE",
    "DiscoveryError",
    "Listing",
    "SitemapRef",
    "canonicalize",
    "extract",
    "is_article_url",
    "old_site_post_id",
    "parse_feed",
    "parse_listing",
    "parse_sitemap",
    "parse_sitemap_index",
    "same_site",
    "section_of",
    "shortlink_post_id",
]

# Last: the site object needs the modules above; importing the package registers it.
from scrapers.cphpost.site import SITE
