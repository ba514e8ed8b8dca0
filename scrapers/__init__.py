"""Site scrapers: pure functions from recorded pages to articles and candidate URLs.

Each site lives in its own subpackage (``scrapers.cphpost``). Nothing here touches the network,
a database or a clock: callers pass in bytes and URLs and get values back.
"""
