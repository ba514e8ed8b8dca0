"""cphpost-monitor: the service that watches cphpost.dk for migration articles.

The pipeline, one module per stage::

    discover.py -> fetch.py -> (the site's extract, scrapers/site.py) -> store.py -> diff/
      -> classify/ -> alerts/ (outbox, render, deliver)

``check.py`` is one article's whole path through it; ``daemon.py`` schedules it.
"""

__version__ = "0.1.0"
