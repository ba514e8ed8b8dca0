"""The read-only web view: changes, article timelines with diffs, search, Atom feeds, exports.

It runs as its own process (``cphpost-monitor web``) beside the daemon, on the same database,
opened read-only: SQLite through a ``mode=ro`` URI (a WAL reader never blocks the daemon's
writes), PostgreSQL in read-only transactions. Everything shown comes from the site and is
untrusted: Jinja2 autoescapes it, the diff renderer escapes every piece, and a strict
Content-Security-Policy forbids scripts and inline styles. See the README's "Web view".
"""
