"""Image formats by their bytes: the one place that tells JPEG, PNG and WEBP apart.

Names are the catalog's (``jpeg``, ``png``, ``webp``); a file's first bytes decide, never its
name or a declared MIME type.
"""

from __future__ import annotations

from typing import Final

from . import catalog

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE: Final = b"\xff\xd8\xff"
MIME: Final = dict(catalog.INPUT_IMAGE_MIME)
FORMAT_OF_MIME: Final = {mime: fmt for fmt, mime in MIME.items()} | {"image/jpg": "jpeg"}
EXTENSION: Final = {"jpeg": ".jpg", "png": ".png", "webp": ".webp"}
HEAD_BYTES: Final = 16  # enough for every signature above


def megabytes(size: float) -> str:
    """``30 MB``, ``31.5 MB``, ``30.04 MB``: in MiB, as every limit here is, and never rounded
    onto a round limit it exceeds."""
    if size < 2**20 / 10:
        return f"{size:.0f} bytes" if size < 1024 else f"{size / 1024:.0f} KB"
    value = size / 2**20
    if value == int(value):
        return f"{value:.0f} MB"
    text = f"{value:.1f}"
    return f"{value:.2f} MB" if text.endswith(".0") else f"{text} MB"


def sniff(head: bytes) -> str | None:
    """``jpeg`` / ``png`` / ``webp`` from the first bytes of a file, else None."""
    if head.startswith(JPEG_SIGNATURE):
        return "jpeg"
    if head.startswith(PNG_SIGNATURE):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def extension(data: bytes, default: str = ".bin") -> str:
    """The file extension for these bytes (``.jpg``, ``.png``, ``.webp``)."""
    return EXTENSION.get(sniff(data[:HEAD_BYTES]) or "", default)


def dimensions(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG, PNG or WEBP header, or None when it is not there.

    Reads only the header (for a JPEG, the segments up to its first frame marker), so the
    size of a reference is known without decoding it. As PIL's ``Image.size``: EXIF
    orientation is not applied.
    """
    fmt = sniff(data[:HEAD_BYTES])
    if fmt == "png":
        if len(data) >= 24 and data[12:16] == b"IHDR":
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return None
    if fmt == "webp":
        return _webp_size(data)
    if fmt == "jpeg":
        return _jpeg_size(data)
    return None


# JPEG start-of-frame markers (every SOFn but DHT 0xC4, JPG 0xC8 and DAC 0xCC)
_SOF: Final = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE})


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # no length
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _SOF:
            if at + 9 > len(data):
                return None
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return (width, height) if width and height else None
        if marker == 0xDA or length < 2:  # scan data before any frame: not a valid file
            return None
        at += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        width = int.from_bytes(data[26:28], "little") & 0x3FFF
        height = int.from_bytes(data[28:30], "little") & 0x3FFF
        return width, height
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None
