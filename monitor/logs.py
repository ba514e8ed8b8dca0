"""Structured logging: one line per event, text or JSON, with notify-URL secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from monitor.settings import Settings, mask_secret_url


class RedactSecrets(logging.Filter):
    """Replace every configured notify URL (and its tokens) by its masked form, whatever logs it."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        for secret in self.secrets:
            if secret in message:
                message = message.replace(
                    secret, mask_secret_url(secret) if "://" in secret else "***"
                )
        record.msg, record.args = message, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def secret_parts(settings: Settings) -> list[str]:
    """The notify URLs and their path/credential pieces: what must never reach a log line."""
    parts: list[str] = []
    for item in settings.notify_urls.split():
        url = item.split("=", 1)[1] if "=" in item.split("://", 1)[0] else item
        parts.append(url)
        rest = url.split("://", 1)[-1]
        parts.extend(p for p in rest.replace("@", "/").replace(":", "/").split("/")[1:] if p)
    return parts


def setup_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(RedactSecrets(secret_parts(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    noisy_loggers = (
        "httpx",
        "httpcore",
        "alembic",
        "apscheduler.executors",
        "apscheduler.scheduler",
    )
    for noisy in noisy_loggers:
        logging.getLogger(noisy).setLevel(logging.WARNING)
