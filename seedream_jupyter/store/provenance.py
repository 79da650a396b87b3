"""Provenance inside image bytes: who made this picture, from which prompt, model and seed.

PNG files get ``iTXt`` chunks (UTF-8, placed before the first ``IDAT`` so that
``PIL.Image.open(path).info`` shows them without decoding pixels); JPEG files get
one ``COM`` segment holding compact JSON (``Image.open(path).info["comment"]``).
Pixels are never re-encoded: chunks and segments are spliced into the byte stream.
Embedding is idempotent: an earlier seedream-jupyter record is replaced, not repeated.
Other formats (WEBP, unknown bytes) are returned unchanged.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Mapping
from typing import Any, Final

GENERATOR: Final = "seedream-jupyter"
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
# PNG text keys written (and replaced on re-embedding). "seedream" holds the full JSON.
PNG_KEYS: Final = ("seedream", "prompt", "model", "seed", "task_id", "Software")
_COM_PREFIX: Final = b'{"generator":"' + GENERATOR.encode() + b'"'
_MAX_COM: Final = 65533  # a JPEG segment's length field counts itself (2 bytes)


def _record(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object embedded: ``generator`` first, so a reader can recognise it."""
    return {"generator": GENERATOR, **{k: v for k, v in meta.items() if v is not None}}


def _dumps(record: Mapping[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True, default=str)


def embed(data: bytes, meta: Mapping[str, Any]) -> bytes:
    """``data`` with ``meta`` (prompt, model, seed, task_id, ...) embedded; pixels untouched."""
    if data.startswith(PNG_SIGNATURE):
        return _embed_png(data, meta)
    if data.startswith(b"\xff\xd8"):
        return _embed_jpeg(data, meta)
    return data


def read(data: bytes) -> dict[str, Any] | None:
    """The embedded record (as written by ``embed``), or None."""
    try:
        if data.startswith(PNG_SIGNATURE):
            for kind, body in _png_chunks(data):
                if kind in (b"iTXt", b"tEXt"):
                    key, text = _png_text(kind, body)
                    if key == "seedream":
                        found = json.loads(text)
                        return found if isinstance(found, dict) else None
        elif data.startswith(b"\xff\xd8"):
            for marker, start, end in _jpeg_segments(data)[0]:
                body = data[start + 4 : end]
                if marker == 0xFE and body.startswith(_COM_PREFIX):
                    found = json.loads(body.decode("utf-8"))
                    return found if isinstance(found, dict) else None
    except (ValueError, struct.error):
        return None
    return None


# -- PNG --------------------------------------------------------------------------------
def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG chunk")
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos = end
        if kind == b"IEND":
            break
    return chunks


def _png_text(kind: bytes, body: bytes) -> tuple[str, str]:
    key, _, rest = body.partition(b"\0")
    if kind == b"tEXt":
        return key.decode("latin-1"), rest.decode("latin-1")
    # iTXt: compression flag, method, language\0, translated keyword\0, text
    compressed = rest[:1] == b"\x01"
    rest = rest[2:]
    _lang, _, rest = rest.partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    if compressed:
        text = zlib.decompress(text)
    return key.decode("latin-1"), text.decode("utf-8")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _itxt(key: str, text: str) -> bytes:
    return _png_chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8"))


def _embed_png(data: bytes, meta: Mapping[str, Any]) -> bytes:
    try:
        chunks = _png_chunks(data)
    except (ValueError, struct.error):
        return data
    if not chunks or chunks[0][0] != b"IHDR":
        return data
    record = _record(meta)
    texts = {"seedream": _dumps(record), "Software": GENERATOR}
    for key in ("prompt", "model", "seed", "task_id"):
        if record.get(key) is not None:
            texts[key] = str(record[key])
    new = b"".join(_itxt(k, v) for k, v in texts.items())
    out = [PNG_SIGNATURE]
    inserted = False
    for kind, body in chunks:
        if kind in (b"tEXt", b"iTXt", b"zTXt"):
            key = body.partition(b"\0")[0].decode("latin-1", "replace")
            if key in PNG_KEYS:
                continue  # ours, from an earlier embedding: replaced below
        if not inserted and kind in (b"IDAT", b"IEND"):
            out.append(new)
            inserted = True
        out.append(_png_chunk(kind, body))
    return b"".join(out)


# -- JPEG -------------------------------------------------------------------------------
def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """(marker, start, end) of each header segment before the first SOS, and where the walk
    stopped; ValueError for a malformed header."""
    segments: list[tuple[int, int, int]] = []
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("bad JPEG marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or 0xD0 <= marker <= 0xD9:
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise ValueError("truncated JPEG segment")
        segments.append((marker, pos, pos + 2 + length))
        pos += 2 + length
    return segments, pos


def _com_payload(meta: Mapping[str, Any]) -> bytes:
    record = _record(meta)
    body = _dumps(record).encode("ascii")
    prompt = str(record.get("prompt", ""))
    keep = len(prompt)
    while len(body) > _MAX_COM and keep > 0:
        per_char = max(1.0, len(_dumps({"p": prompt[:keep]})) / keep)
        keep = max(0, keep - int((len(body) - _MAX_COM + 32) / per_char) - 1)
        record["prompt"] = prompt[:keep]
        record["prompt_truncated"] = True
        body = _dumps(record).encode("ascii")
    return body


def _embed_jpeg(data: bytes, meta: Mapping[str, Any]) -> bytes:
    try:
        segments, header_end = _jpeg_segments(data)
    except (ValueError, struct.error):
        return data  # not a JPEG we can edit safely: leave it as it is
    # our own earlier comment segments are replaced, so embedding twice changes nothing
    spans_to_drop = [
        (s, e) for m, s, e in segments if m == 0xFE and data[s + 4 : e].startswith(_COM_PREFIX)
    ]
    # after the leading APPn segments (JFIF/EXIF stay first)
    insert_at = next(
        (s for m, s, e in segments if (s, e) not in spans_to_drop and not 0xE0 <= m <= 0xEF),
        header_end,
    )
    body = _com_payload(meta)
    segment = b"\xff\xfe" + struct.pack(">H", len(body) + 2) + body
    out = bytearray()
    cursor = 0
    cuts = sorted([*spans_to_drop, (insert_at, insert_at)])
    for start, end in cuts:
        out += data[cursor:start]
        if (start, end) == (insert_at, insert_at):
            out += segment
        cursor = end
    out += data[cursor:]
    return bytes(out)
