"""Notification targets: parsed from settings, routed by topic, never printed with their secrets.

A target is one apprise URL plus its tags. URLs come from ``CPHMON_NOTIFY_URLS`` (whitespace-
separated, each optionally ``tag1,tag2=URL`` as in apprise's TEXT config) and from an apprise
config file (YAML or TEXT, read by apprise's own :class:`apprise.AppriseConfig`).

Routing: an untagged target (or one tagged ``all``) receives every article alert; a target
tagged with topic names receives alerts on those topics only. Operator alerts go to targets
tagged with ``ops_tag``, or, when no target carries it, to the untagged/``all`` ones.

A URL is a secret (tokens, passwords). Outside this module only :attr:`Target.key` (a hash) and
:attr:`Target.masked` are shown; every URL piece that could be a secret is registered with a
log filter on apprise's logger, so even apprise's debug output cannot leak it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import apprise
from apprise.manager_plugins import NotificationManager

from monitor.alerts import is_ops_kind
from monitor.classify import TOPICS, RulesError, load_rules
from monitor.settings import Settings, mask_secret_url, parse_duration

ALL_TAG = "all"
DIGEST_TAG_PREFIX = "digest-"  # apprise config files: tag a URL `digest-1h` to batch it
_TAGGED = re.compile(r"^(?P<tags>[A-Za-z0-9_,:-]*)=(?P<url>[A-Za-z0-9+.-]{1,32}://.*)$")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z0-9+.-]{1,32})://")
_MIN_SECRET = 6  # shorter pieces ("POST", "yes") are not secrets and would garble logs
_NOT_SECRET_PARAMS = frozenset(
    {
        "format", "overflow", "retry", "wait", "optional", "method", "cto", "rto", "verify",
        "mode", "image", "footer", "timestamp", "blocks", "store", "emojis", "tz", "digest",
        "secure", "smtp", "name", "priority", "avatar",
    }
)  # fmt: skip


class TargetError(ValueError):
    """A notify URL or the apprise config file is unusable; the message never holds a secret."""


@dataclass(frozen=True)
class Target:
    """One notification destination.

    ``url`` is the secret apprise URL (without our ``digest`` option); it is excluded from
    ``repr`` so a target in a traceback or log line shows only ``key`` and ``masked``.
    """

    key: str  # sha256 of the URL, first 16 hex: stable, safe to store and print
    url: str = field(repr=False)
    tags: frozenset[str] = frozenset()
    digest: float = 0.0  # seconds; > 0 batches the alerts of one window into one message
    masked: str = ""

    @property
    def routing_tags(self) -> frozenset[str]:
        """Tags that select alerts (``digest-*`` tags only configure batching)."""
        return frozenset(t for t in self.tags if not t.startswith(DIGEST_TAG_PREFIX))

    @property
    def catch_all(self) -> bool:
        return not self.routing_tags or ALL_TAG in self.routing_tags

    def __str__(self) -> str:
        return self.masked


# The fallback when nothing is configured: a log line plus ``alerts.jsonl`` in the data dir.
LOG_TARGET = Target(key="log", url="", tags=frozenset(), digest=0.0, masked="log (alerts.jsonl)")


def target_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


# Loading ---------------------------------------------------------------------------------------


def load_targets(settings: Settings) -> list[Target]:
    """Every configured target, in configuration order, deduplicated by key (tags merged).

    Raises :class:`TargetError` for a URL apprise cannot use or an unreadable config file.
    """
    install_redaction()
    targets: list[Target] = []
    for index, item in enumerate(settings.notify_urls.split(), start=1):
        targets.append(_from_env(item, index, settings.digest))
    if settings.apprise_config is not None:
        targets.extend(_from_config_file(Path(settings.apprise_config), settings.digest))
    allowed = {*_topics(settings), "all", settings.ops_tag}
    for target in targets:
        unknown = sorted(t for t in target.tags if t not in allowed and not t.startswith("digest-"))
        if unknown:
            raise TargetError(
                f"notify target {target.masked}: tag {unknown[0]!r} is not a topic "
                f"({', '.join(sorted(allowed - {'all', settings.ops_tag}))}), "
                f"'all' or {settings.ops_tag!r}"
            )
    merged: dict[str, Target] = {}
    for target in targets:
        seen = merged.get(target.key)
        merged[target.key] = target if seen is None else replace(seen, tags=seen.tags | target.tags)
    return list(merged.values())


def _topics(settings: Settings) -> set[str]:
    """The topics a tag may name: the packaged ones and any a user rules file adds."""
    try:
        rules = load_rules(settings.classifier_rules, settings.classifier_rules_mode)
    except RulesError:
        return set(TOPICS)  # the command that classifies reports the rules file
    return {*TOPICS, *(t.topic for t in rules.terms), *rules.definitions}


def _from_env(item: str, index: int, default_digest: float) -> Target:
    where = f"CPHMON_NOTIFY_URLS entry {index}"
    tags: frozenset[str] = frozenset()
    match = _TAGGED.match(item)
    if match:
        tags = _tags(match.group("tags").split(","))
        item = match.group("url")
    scheme_match = _SCHEME.match(item)
    if not scheme_match:
        raise TargetError(f"{where} is not an apprise URL (expected SERVICE://…)")
    url, digest_text = _strip_digest(item)
    host_public = _host_is_public(url)
    register_secrets(secret_parts(url, host_public=host_public))
    masked = mask_url(url, host_public=host_public)
    digest = _digest_seconds(digest_text, where) if digest_text is not None else None
    if digest is None:
        digest = _digest_from_tags(tags, where)
    if _instantiate(url) is None:
        raise TargetError(
            f"{where} ({masked}) is not a usable apprise URL: unknown service, "
            "or a missing or invalid field (see apprise's documentation for the service)"
        )
    return Target(
        key=target_key(url),
        url=url,
        tags=tags,
        digest=default_digest if digest is None else digest,
        masked=masked,
    )


def _from_config_file(path: Path, default_digest: float) -> list[Target]:
    where = f"apprise config file {path}"
    if not path.is_file():
        raise TargetError(f"{where} does not exist")
    try:
        if not path.read_text(encoding="utf-8").strip():
            return []
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetError(f"{where} cannot be read: {type(exc).__name__}") from None
    config = apprise.AppriseConfig(asset=_asset())
    with capture_apprise(logging.ERROR) as errors:
        config.add(str(path))
        services = list(config.services())
    if errors:
        line = re.search(r"\bline (\d+)", errors[0])
        problem = (
            f"the entry on line {line.group(1)} is not a usable apprise URL"
            if line
            else "it is not valid apprise YAML or TEXT configuration"
        )
        raise TargetError(f"{where}: {problem}")
    if not services:
        raise TargetError(f"{where} holds no notification URL")
    targets = []
    for service in services:
        url = str(service.url(privacy=False))
        host_public = _host_is_public(url)
        register_secrets(secret_parts(url, host_public=host_public))
        tags = _tags(str(t) for t in service.tags)
        digest = _digest_from_tags(tags, where)
        targets.append(
            Target(
                key=target_key(url),
                url=url,
                tags=tags,
                digest=default_digest if digest is None else digest,
                masked=mask_url(url, host_public=host_public),
            )
        )
    return targets


def _tags(values: Iterable[str]) -> frozenset[str]:
    return frozenset(t.strip().lower() for t in values if t.strip())


def _strip_digest(url: str) -> tuple[str, str | None]:
    """Remove our ``digest=`` query option, leaving the rest of the URL byte for byte."""
    base, sep, query = url.partition("?")
    if not sep:
        return url, None
    kept, digest = [], None
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name.lower() == "digest":
            digest = unquote(value)
        else:
            kept.append(pair)
    rest = "&".join(p for p in kept if p)
    return (f"{base}?{rest}" if rest else base), digest


def _digest_from_tags(tags: frozenset[str], where: str) -> float | None:
    for tag in sorted(tags):
        if tag.startswith(DIGEST_TAG_PREFIX):
            return _digest_seconds(tag.removeprefix(DIGEST_TAG_PREFIX), where)
    return None


def _digest_seconds(text: str, where: str) -> float:
    if text.strip().lower() in ("", "0", "off", "no"):
        return 0.0
    try:
        return parse_duration(text)
    except ValueError:
        raise TargetError(
            f"{where}: digest {text!r} is not a duration (examples: 30m, 1h, 1d)"
        ) from None


# Routing ---------------------------------------------------------------------------------------


def route(
    targets: Sequence[Target], kind: str, topics: Sequence[str], ops_tag: str
) -> list[Target]:
    """The targets one alert goes to (configuration order)."""
    if is_ops_kind(kind):
        tag = ops_tag.strip().lower()
        ops = [t for t in targets if tag in t.routing_tags]
        return ops or [t for t in targets if t.catch_all]
    wanted = {t.strip().lower() for t in topics}
    return [t for t in targets if t.catch_all or (t.routing_tags & wanted)]


# Masking and redaction -------------------------------------------------------------------------

_PLUGINS = NotificationManager()


def _scheme(url: str) -> str:
    match = _SCHEME.match(url)
    return match.group("scheme").lower() if match else ""


def _host_is_public(url: str) -> bool:
    """Whether the URL's host part is a real host name (else it carries a token, as in Slack's)."""
    try:
        plugin = _PLUGINS[_scheme(url)]
    except KeyError:
        return False
    if "host" not in getattr(plugin, "template_tokens", {}):
        return False
    netloc = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]
    host = netloc.rsplit(":", 1)[0] if not netloc.startswith("[") else netloc
    return "." in host or host.startswith("[") or host.lower() == "localhost"


def mask_url(url: str, *, host_public: bool | None = None) -> str:
    """``json://user:pass@host:8080/path`` → ``json://***@host:8080/***``; token hosts hidden."""
    scheme = _scheme(url) or "?"
    if host_public is None:
        host_public = _host_is_public(url)
    if not host_public:
        return f"{scheme}://***"
    try:
        return mask_secret_url(url)
    except ValueError:  # e.g. a port that is not a number: the host part is not a host
        return f"{scheme}://***"


def secret_parts(url: str, *, host_public: bool) -> set[str]:
    """Every piece of ``url`` that may be a credential or token, in the forms a log may show."""
    rest = url.split("://", 1)[-1]
    base, _, query = rest.partition("?")
    netloc, _, path = base.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    pieces: list[str] = [url, rest]
    if at:
        pieces += [userinfo, *userinfo.split(":", 1)]
    if not host_public:
        pieces += [hostport, *hostport.split(":")]
    pieces += path.split("/")
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name.lower().lstrip("+-:") not in _NOT_SECRET_PARAMS:
            pieces.append(value)
    found: set[str] = set()
    for piece in pieces:
        for form in (piece, unquote(piece), quote(unquote(piece), safe="")):
            if len(form) >= _MIN_SECRET:
                found.add(form)
    return found


_lock = threading.Lock()
_secrets: tuple[str, ...] = ()


def register_secrets(pieces: Iterable[str]) -> None:
    """Add pieces to what :func:`redact` (and the apprise log filter) hides."""
    global _secrets
    with _lock:
        merged = set(_secrets) | {p for p in pieces if len(p) >= _MIN_SECRET}
        _secrets = tuple(sorted(merged, key=len, reverse=True))


def protect(url: str) -> None:
    """Register ``url``'s secret pieces unless done already (targets built by hand, in tests)."""
    if url and url not in _secrets:
        register_secrets(secret_parts(url, host_public=_host_is_public(url)))


def registered_secrets() -> tuple[str, ...]:
    """For the service's own log filter (``monitor.logs``): the pieces to hide."""
    return _secrets


def redact(text: str) -> str:
    """``text`` with every registered secret piece replaced by ``***``."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class RedactFilter(logging.Filter):
    """Rewrites a record's message through :func:`redact` before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is not ours to fix
                return True
            cleaned = redact(message)
            if cleaned != message or record.args:
                record.msg, record.args = cleaned, None
        return True


_FILTER = RedactFilter()
# Loggers that print notify URLs at DEBUG: apprise ("Slack POST URL: …") and urllib3, which
# logs every request line ("POST /services/T…/B…/token").
REDACTED_LOGGERS = ("apprise", "urllib3.connectionpool", "urllib3.poolmanager")


def install_redaction() -> None:
    """Filter the loggers that see notify URLs (idempotent; filters act before any handler)."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


class _Collect(logging.Handler):
    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(redact(record.getMessage()))


@contextmanager
def capture_apprise(level: int) -> Iterator[list[str]]:
    """Apprise's messages at ``level`` or above from this thread, redacted."""
    install_redaction()
    logger = logging.getLogger("apprise")
    handler = _Collect(level)
    previous = logger.level
    if logger.getEffectiveLevel() > level:
        logger.setLevel(level)
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _asset() -> apprise.AppriseAsset:
    return apprise.AppriseAsset(app_id="cphpost-monitor", app_desc="cphpost-monitor alerts")


def _instantiate(url: str) -> Any:
    """The apprise plugin for ``url``, or None (apprise logs why, redacted by our filter)."""
    return apprise.Apprise.instantiate(url, asset=_asset())
