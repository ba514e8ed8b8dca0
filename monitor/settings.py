"""Settings: environment variables prefixed ``CPHMON_``, an optional TOML file, then defaults.

Precedence, highest first: explicit overrides (tests), environment, the TOML file named by
``--config`` or ``CPHMON_CONFIG``, defaults. TOML keys are the setting names without the prefix,
in lower case (``rate_limit = 0.5``). Every setting is listed in
``deploy/cphpost-monitor.example.toml`` and ``deploy/.env.example``.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as _SourceError

from scrapers.site import Site, SiteError
from scrapers.site import load as load_site

ENV_PREFIX = "CPHMON_"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


class SettingsError(Exception):
    """A setting or the config file is wrong; the message names it and says why."""


def parse_duration(value: Any) -> float:
    """Seconds from ``600``, ``"600"``, ``"10m"``, ``"1.5h"``, ``"7d"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 600, 10m, 1h or 7d")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration (examples: 600, 10m, 1h, 7d)")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_schedule(value: Any) -> tuple[tuple[float, float], ...]:
    """Re-check schedule ``"3h:15m,1d:1h,7d:6h,30d:1d,*:7d"`` → ((max_age, interval), ...).

    Each step says: while the article is younger than ``max_age``, re-check every ``interval``.
    The last step must be ``*`` (any age).
    """
    if isinstance(value, tuple | list) and all(isinstance(s, tuple | list) for s in value):
        return tuple((float(a), float(i)) for a, i in value)
    steps: list[tuple[float, float]] = []
    for part in str(value).split(","):
        age, sep, interval = part.strip().partition(":")
        if not sep:
            raise ValueError(f"step {part.strip()!r} must look like AGE:INTERVAL, e.g. 3h:15m")
        max_age = float("inf") if age.strip() == "*" else parse_duration(age)
        every = parse_duration(interval)
        if every <= 0:
            raise ValueError(f"step {part.strip()!r}: the interval must be positive")
        if steps and max_age <= steps[-1][0]:
            raise ValueError("steps must be in increasing order of age")
        steps.append((max_age, every))
    if not steps or steps[-1][0] != float("inf"):
        raise ValueError("the last step must be '*:INTERVAL' (any age)")
    return tuple(steps)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cphpost-monitor"


class Settings(BaseSettings):
    """Every knob of the service. Durations accept seconds or ``10m``/``1h``/``7d``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    # Where and what to watch (the defaults of site_url, feeds and sitemap_path are the site's)
    site: str = Field(
        "cphpost", description="The site to watch: a package under scrapers/ or a module path."
    )
    site_url: str = Field("https://cphpost.dk", description="Origin every request goes to.")
    feeds: str = Field(
        "/feed/ /category/news/feed/ /tag/asylum/feed/",
        description="Feed paths on the site, whitespace-separated, polled every poll_interval.",
    )
    sitemap_path: str = Field("/sitemap_index.xml", description="Sitemap index path.")

    # Storage
    data_dir: Path = Field(default_factory=default_data_dir, description="Data directory.")
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite in data_dir.")

    # Alerts
    notify_urls: str = Field("", description="Apprise URLs, whitespace-separated, tags=URL.")
    apprise_config: Path | None = Field(None, description="Apprise config file (YAML or TEXT).")
    notify_timeout: float = Field(15.0, description="Seconds one delivery may take.")
    delivery_interval: float = Field(15.0, description="How often the outbox is drained.")
    delivery_max_attempts: int = Field(8, ge=1, le=100, description="Attempts per target.")
    delivery_backoff: float = Field(30.0, description="First retry delay; doubles per attempt.")
    digest: float = Field(0.0, description="Default digest window for every target (0 = off).")
    ops_tag: str = Field("ops", description="Apprise tag of operator (failure) alerts.")
    failure_threshold: int = Field(3, ge=1, description="Failed cycles before an ops alert.")

    # Scheduling
    poll_interval: float = Field(600.0, description="Feed polling interval.")
    sitemap_interval: float = Field(3600.0, description="Sitemap backstop interval.")
    recheck_schedule: Annotated[tuple[tuple[float, float], ...], NoDecode] = Field(
        default="3h:15m,1d:1h,7d:6h,30d:1d,*:7d",  # type: ignore[arg-type]
        description="Re-check intervals by article age.",
    )
    recheck_interval: float = Field(30.0, description="How often due re-checks are claimed.")
    recheck_batch: int = Field(20, ge=1, le=1000, description="Re-checks claimed at once.")
    slow_recheck_factor: float = Field(
        4.0, ge=1, description="Non-relevant articles are re-checked this many times less often."
    )
    lease_seconds: float = Field(300.0, description="How long a claim lasts before retaken.")
    delete_confirm_after: float = Field(300.0, description="Delay before a 404 is re-checked.")
    flipflop_window: float = Field(7 * 86400.0, description="Reversions inside are held back.")

    # Politeness
    rate_limit: float = Field(1.0, ge=0, description="Requests per second to the site; 0 = off.")
    concurrency: int = Field(2, ge=1, le=32, description="Requests in flight at once.")
    user_agent: str = Field(
        "cphpost-monitor/0.1", description="User-Agent product token; contact_url is appended."
    )
    contact_url: str = Field(
        "https://github.com/cphpost-monitor/cphpost-monitor",
        description="Where the site can reach the operator.",
    )
    connect_timeout: float = Field(10.0, description="TCP/TLS connect timeout.")
    read_timeout: float = Field(30.0, description="Timeout between bytes.")
    total_timeout: float = Field(60.0, description="Timeout for one whole request.")
    max_response_bytes: int = Field(5_000_000, ge=1024, description="Larger bodies are refused.")
    max_retries: int = Field(3, ge=0, le=10, description="Retries of one request on 5xx/errors.")

    # Retention
    fetch_log_days: float = Field(30.0, ge=0, description="Fetch log kept this many days.")

    # Operations
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    health_port: int = Field(0, ge=0, le=65535, description="/healthz and /metrics; 0 = off.")
    health_host: str = Field("127.0.0.1", description="Address the health endpoint binds.")
    web_host: str = Field("127.0.0.1", description="Address the web view binds.")
    web_port: int = Field(8080, ge=1, le=65535, description="Port of the web view.")
    web_token: str = Field("", description="Token the web view asks for; needed off loopback.")
    classifier_rules: Path | None = Field(None, description="Extra or replacement rules TOML.")
    classifier_rules_mode: Literal["extend", "replace"] = "extend"

    @field_validator(
        "notify_timeout",
        "delivery_interval",
        "delivery_backoff",
        "digest",
        "poll_interval",
        "sitemap_interval",
        "recheck_interval",
        "lease_seconds",
        "delete_confirm_after",
        "flipflop_window",
        "connect_timeout",
        "read_timeout",
        "total_timeout",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("apprise_config", "classifier_rules", mode="before")
    @classmethod
    def _empty_path_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="before")
    @classmethod
    def _site_defaults(cls, data: Any) -> Any:
        """The chosen site supplies the origin, feeds and sitemap index nobody set."""
        if not isinstance(data, dict):
            return data
        try:
            site = load_site(str(data.get("site") or "cphpost").strip())
        except SiteError as exc:
            raise ValueError(f"site: {exc}") from None
        return {
            "site_url": site.default_origin,
            "feeds": " ".join(site.feed_paths),
            "sitemap_path": site.sitemap_index_path,
            **data,
        }

    @field_validator("recheck_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: Any) -> tuple[tuple[float, float], ...]:
        return parse_schedule(value)

    @field_validator("site_url")
    @classmethod
    def _site_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL such as https://cphpost.dk")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("give the site's origin only, e.g. https://cphpost.dk")
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:///PATH and postgresql+psycopg://... are supported")
        return value

    @field_validator("feeds")
    @classmethod
    def _feeds(cls, value: str) -> str:
        for path in value.split():
            if not path.startswith("/"):
                raise ValueError(f"feed {path!r} must be a path on the site starting with /")
        return value

    @field_validator("web_token")
    @classmethod
    def _web_token(cls, value: str) -> str:
        value = value.strip()
        if value and (len(value) < 16 or any(ch.isspace() for ch in value)):
            raise ValueError("give at least 16 characters without spaces (openssl rand -hex 24)")
        return value

    @model_validator(mode="after")
    def _positive_intervals(self) -> Settings:
        for name in ("poll_interval", "sitemap_interval", "recheck_interval", "lease_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        return self

    # Derived values -------------------------------------------------------------------------

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'cphpost-monitor.sqlite3'}"

    @property
    def scraper(self) -> Site:
        """The site's rules (URL layout, sources, extraction) behind the ``Site`` seam."""
        return load_site(self.site)

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def feed_paths(self) -> tuple[str, ...]:
        return tuple(self.feeds.split())

    @property
    def full_user_agent(self) -> str:
        return f"{self.user_agent} (+{self.contact_url})"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    """The TOML file named by ``CPHMON_CONFIG`` (set by ``--config`` too)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns everything at once

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get(f"{ENV_PREFIX}CONFIG")
        return read_config_file(Path(path)) if path else {}


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise SettingsError(f"config file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    known = set(Settings.model_fields)
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"config file {path}: unknown setting {unknown[0]!r}")
    return data


def load_settings(**overrides: Any) -> Settings:
    """Build settings or raise :class:`SettingsError` with one line naming the bad setting."""
    try:
        return Settings(**overrides)
    except _SourceError as exc:
        raise SettingsError(f"settings: {exc}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        name = str(error["loc"][0]) if error["loc"] else "settings"
        if not error["loc"] and message.startswith("site: "):  # the site-defaults validator
            name, message = "site", message.removeprefix("site: ")
        if name in Settings.model_fields:
            name = f"{ENV_PREFIX}{name.upper()}"
        raise SettingsError(f"setting {name}: {message}") from None


def mask_secret_url(url: str) -> str:
    """``scheme://user:pass@host/token`` → ``scheme://***@host/***``: safe for logs and output."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return "***"
    host = parts.hostname or ""
    if not (host == "localhost" or "." in host or ":" in host):
        host = "***"  # a token in the host position (slack://TokenA/...), not a host name
    try:
        port = parts.port
    except ValueError:  # tgram://123:TOKEN/...: what looks like a port is a secret
        port, host = None, "***"
    if port:
        host = f"{host}:{port}"
    userinfo = "***@" if "@" in parts.netloc else ""
    path = "/***" if parts.path.strip("/") else ""
    query = "?***" if parts.query else ""
    return f"{parts.scheme}://{userinfo}{host}{path}{query}"
