from tests.fetch.conftest import engine, make_settings

__all__ = ["engine", "make_settings"]
