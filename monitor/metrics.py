"""Prometheus counters and the optional ``/healthz`` + ``/metrics`` endpoint."""

from __future__ import annotations

import asyncio
import json
import logging

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import Engine

from monitor.settings import Settings
from monitor.status import read_status

log = logging.getLogger(__name__)

REQUESTS = Counter("cphmon_requests_total", "Requests sent to the site", ["status"])
LATENCY = Histogram("cphmon_request_seconds", "Request latency to the site")
CHECKS = Counter("cphmon_checks_total", "Article checks by outcome", ["outcome"])
DISCOVERED = Counter("cphmon_discovered_total", "New article URLs discovered")
DELIVERIES = Counter("cphmon_deliveries_total", "Alert deliveries by result", ["result"])


def count_request(url: str, status: int | None, elapsed: float, error: str | None) -> None:
    REQUESTS.labels(str(status) if status is not None else "error").inc()
    LATENCY.observe(elapsed)


async def serve(settings: Settings, engine: Engine) -> asyncio.Server:
    """A tiny HTTP/1.0 server: GET /healthz (200 or 503 with the status JSON), GET /metrics."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            path = request.split(b" ")[1].decode() if request.count(b" ") >= 2 else ""
            if path == "/metrics":
                code, ctype, body = 200, CONTENT_TYPE_LATEST, generate_latest()
            elif path == "/healthz":
                status = await asyncio.to_thread(read_status, engine, settings)
                code = 200 if status.healthy else 503
                ctype, body = "application/json", json.dumps(status.to_dict()).encode()
            else:
                code, ctype, body = 404, "text/plain", b"not found\n"
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            head = f"HTTP/1.0 {code} {reason}\r\nContent-Type: {ctype}\r\n"
            head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, settings.health_host, settings.health_port)
    log.info("health endpoint on http://%s:%d/healthz", settings.health_host, settings.health_port)
    return server
