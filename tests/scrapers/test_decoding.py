"""Bytes to text: byte-order marks, valid UTF-8 over a wrong label, declared legacy charsets."""

from __future__ import annotations

import codecs

import pytest

from scrapers.cphpost.decoding import decode_page, meta_charset

TEXT = "<p>Nørrebro’s “café” – 5 €</p>"


def test_text_is_returned_unchanged() -> None:
    assert decode_page(TEXT, "latin-1") == TEXT


@pytest.mark.parametrize("label", [None, "utf-8", "iso-8859-1", "windows-1252", "bogus"])
def test_valid_utf8_wins_over_any_label(label: str | None) -> None:
    assert decode_page(TEXT.encode("utf-8"), label) == TEXT


@pytest.mark.parametrize("label", ["windows-1252", "cp1252", "ISO-8859-1", "latin1", "us-ascii"])
def test_legacy_bytes_decode_as_windows_1252_like_browsers(label: str) -> None:
    assert decode_page(TEXT.encode("cp1252"), label) == TEXT


def test_http_charset_wins_over_meta_charset() -> None:
    data = ('<meta charset="koi8-r">' + TEXT).encode("cp1252")
    assert decode_page(data, "windows-1252").endswith(TEXT)


def test_meta_charset_is_used_without_http_charset() -> None:
    data = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">' + TEXT
    assert decode_page(data.encode("cp1252")).endswith(TEXT)


def test_unknown_label_falls_back_to_utf8_with_replacement() -> None:
    data = TEXT.encode("cp1252")
    decoded = decode_page(data, "no-such-charset")
    assert decoded == data.decode("utf-8", errors="replace")
    assert decoded.startswith("<p>N\ufffdrrebro")


@pytest.mark.parametrize(
    ("bom", "codec"),
    [
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ],
)
def test_byte_order_mark_decides(bom: bytes, codec: str) -> None:
    assert decode_page(bom + TEXT.encode(codec), "iso-8859-1") == TEXT


@pytest.mark.parametrize(
    ("head", "charset"),
    [
        (b'<meta charset="UTF-8">', "utf-8"),
        (b"<meta charset=iso-8859-1>", "iso-8859-1"),
        (
            b'<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=Windows-1252">',
            "windows-1252",
        ),
        (b"<title>no charset</title>", None),
    ],
)
def test_meta_charset(head: bytes, charset: str | None) -> None:
    assert meta_charset(head) == charset
