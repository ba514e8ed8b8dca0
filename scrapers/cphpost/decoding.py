"""Bytes to text for pages whose declared encoding may be missing or wrong.

Order: a byte-order mark, then valid UTF-8 (a stray ``latin-1`` label on a UTF-8 page is far more
common than latin-1 bytes that happen to form valid UTF-8), then the HTTP ``charset``, then
``<meta charset>``, then UTF-8 with replacement characters. Decoding never raises.
"""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# WHATWG: browsers read these labels as windows-1252, which is what servers mean by them.
_AS_CP1252 = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "l1", "us-ascii", "ascii"})


def meta_charset(data: bytes) -> str | None:
    """The charset a page declares in its first 4 KiB (``<meta charset>`` or http-equiv)."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii").lower() if match else None


def _codec(label: str | None) -> str | None:
    """A Python codec name for an encoding label, or None when Python does not know it."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _AS_CP1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_page(data: bytes | str, encoding: str | None = None) -> str:
    """Text of a page; ``encoding`` is the HTTP Content-Type charset when there was one."""
    if isinstance(data, str):
        return data
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = _codec(encoding) or _codec(meta_charset(data)) or "utf-8"
    return data.decode(codec, errors="replace")


def utf8_page(data: bytes | str, encoding: str | None = None) -> bytes:
    """The page as UTF-8 bytes for the HTML parser, which reads bytes as UTF-8 whatever the page
    declares: valid UTF-8 passes through untouched (no decode/re-encode round trip), anything
    else goes through :func:`decode_page` first.
    """
    if isinstance(data, str):
        return data.encode("utf-8", errors="replace")
    if not data.startswith(codecs.BOM_UTF8):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            return data
    return decode_page(data, encoding).encode("utf-8", errors="replace")
