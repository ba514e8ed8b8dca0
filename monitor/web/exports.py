"""Exports for researchers: an article's versions, or a date range of changes, as JSON or CSV.

CSV cells that a spreadsheet would read as a formula (starting with ``= + - @``, tab or CR) get
a leading apostrophe: the text comes from the site and must stay text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from monitor.models import Version
from monitor.web.queries import ChangeRow

MAX_EXPORT_ROWS = 100_000
CHANGE_COLUMNS = (
    "id",
    "created_at",
    "article_id",
    "url",
    "title",
    "kind",
    "kinds",
    "significance",
    "held",
    "from_version",
    "to_version",
    "topics",
    "alerts",
    "details",
)
VERSION_COLUMNS = (
    "version",
    "fetched_at",
    "url",
    "title",
    "standfirst",
    "author",
    "published",
    "modified",
    "paywalled",
    "relevant",
    "topics",
    "tags",
    "fingerprint",
    "body",
)


def version_record(version: Version) -> dict[str, Any]:
    data = version.data or {}
    topics = (version.classification or {}).get("topics") or {}
    return {
        "version": version.seq,
        "fetched_at": version.fetched_at.isoformat(),
        "url": data.get("url", ""),
        "title": version.title,
        "standfirst": data.get("standfirst", ""),
        "author": data.get("author", ""),
        "published": data.get("published"),
        "modified": data.get("modified"),
        "paywalled": version.paywalled,
        "relevant": version.relevant,
        "topics": list(topics),
        "tags": list(data.get("tags") or ()),
        "fingerprint": version.fingerprint,
        "paragraphs": list(data.get("paragraphs") or ()),
    }


def _cell(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value)
    elif isinstance(value, bool):
        value = "true" if value else "false"
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def csv_rows(columns: tuple[str, ...], records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV text, a header then one line per record, produced as it is read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(columns)
    yield flush()
    for record in records:
        writer.writerow([_cell(record.get(c)) for c in columns])
        yield flush()


def version_csv_record(version: Version) -> dict[str, Any]:
    record = version_record(version)
    record["body"] = "\n\n".join(record.pop("paragraphs"))
    return record


def json_array(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    """A JSON array written record by record (an export can be large)."""
    yield "["
    for n, record in enumerate(records):
        yield ("," if n else "") + "\n" + json.dumps(record, ensure_ascii=False)
    yield "\n]\n"


def change_records(rows: Iterable[ChangeRow]) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield row.to_dict()
