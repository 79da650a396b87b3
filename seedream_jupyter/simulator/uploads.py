"""Checks one entry of ``image_urls`` the way the provider documents it.

An entry is an http(s) URL naming a host, or a base64 ``data:`` URI. A data URI is decoded in
full and must hold a JPG, PNG or WEBP image of at most 30 MB whose bytes match the declared
type and whose header Pillow can read.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from typing import Final
from urllib.parse import urlsplit

from PIL import Image

from .. import catalog
from .wire import ApiFailure

_DATA_URI: Final = re.compile(r"^data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),", re.IGNORECASE)
_MIME_FORMATS: Final = {mime: fmt for fmt, mime in catalog.INPUT_IMAGE_MIME.items()} | {
    "image/jpg": "jpeg"
}
_PIL_FORMATS: Final = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
_SHORT: Final = 64


def shorten(text: str) -> str:
    """A long ``data:`` URI cut to its head and length, for records and messages."""
    if text[:5].lower() != "data:" or len(text) <= _SHORT:
        return text
    return f"{text[:40]}...<{len(text)} chars>"


def sniff(head: bytes) -> str | None:
    """jpeg / png / webp from the first bytes, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _invalid(field: str, message: str) -> ApiFailure:
    return ApiFailure(400, "invalid_parameter", f"{field}: {message}")


def check_image_url(value: object, field: str) -> None:
    """``ApiFailure`` 400 naming ``field`` (``image_urls[2]``) unless the entry is usable."""
    if not isinstance(value, str) or not value:
        raise _invalid(field, "each entry must be a non-empty URL string")
    scheme = value[:8].lower()
    if scheme.startswith(("http://", "https://")):
        if not urlsplit(value).hostname:
            raise _invalid(field, f"the URL {shorten(value)!r} names no host")
        return
    if not scheme.startswith("data:"):
        raise _invalid(field, f"{shorten(value)!r} is neither an http(s) URL nor a data: URI")
    _check_data_uri(value, field)


def _check_data_uri(uri: str, field: str) -> None:
    formats = "/".join(f.upper() for f in catalog.INPUT_IMAGE_FORMATS)
    match = _DATA_URI.match(uri[:512])
    if match is None or ";base64" not in match.group("params").lower():
        raise _invalid(field, "a data: URI must be base64 ('data:image/png;base64,...')")
    declared = match.group("mime").strip().lower()
    if declared and declared not in _MIME_FORMATS:
        raise _invalid(field, f"the data: URI declares {declared!r}; images must be {formats}")
    payload = uri[match.end() :]
    if len(payload) * 3 // 4 > catalog.MAX_INPUT_IMAGE_BYTES + 3:
        raise _too_big(field, len(payload) * 3 // 4)
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(field, "the data: URI is not valid base64") from None
    if len(raw) > catalog.MAX_INPUT_IMAGE_BYTES:
        raise _too_big(field, len(raw))
    fmt = sniff(raw[:16])
    if fmt is None:
        raise _invalid(field, f"the data: URI does not hold a {formats} image")
    if declared and _MIME_FORMATS[declared] != fmt:
        raise _invalid(field, f"the data: URI declares {declared!r} but holds a {fmt} image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(raw))
            opened_format = _PIL_FORMATS.get(opened.format or "")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _invalid(field, f"the image cannot be decoded ({exc})") from None
    if opened_format != fmt:
        raise _invalid(field, f"the image cannot be decoded as {fmt}")


def _too_big(field: str, size: int) -> ApiFailure:
    limit = catalog.MAX_INPUT_IMAGE_BYTES // (1024 * 1024)
    return _invalid(field, f"the image is {size / 1e6:.1f} MB; each image must be <= {limit} MB")
