"""Sites that exist only for tests: they prove a new site needs no edit in ``monitor/``."""
