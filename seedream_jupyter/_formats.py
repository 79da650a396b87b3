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
