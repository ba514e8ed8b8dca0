"""Structured logging: one line per event, text or JSON, with notify-URL secrets redacted."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from monitor.alerts.targets import RedactFilter, TargetError, install_redaction, load_targets
from monitor.settings import Settings


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


def setup_logging(settings: Settings) -> None:
    """Log to stderr; every line passes the secret filter, whichever logger wrote it."""
    with contextlib.suppress(TargetError):  # reported by the command that needs the targets
        load_targets(settings)  # registers the notify URLs' secret pieces for redaction
    install_redaction()
    handler = logging.StreamHandler(sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(RedactFilter())
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
