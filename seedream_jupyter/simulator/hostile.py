"""Bodies a hostile server sends: a decompression bomb, an undecodable JPEG, JSON nested
too deep to parse, and garbage for a body that never ends. Small and deterministic."""

from __future__ import annotations

import functools
import random
import struct
import zlib
from typing import Final

BOMB_SIDE: Final = 60_000  # 60000 x 60000 RGB = 10.8 GB decoded
BOMB_ROWS_SENT: Final = 16  # rows of zeros actually in the file: a few KB compressed
NESTED_DEPTH: Final = 200_000
BAD_JPEG_NOISE_BYTES: Final = 64 * 1024
GARBAGE_CHUNK_BYTES: Final = 64 * 1024
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
# Start of image, then a JFIF APP0 segment: any sniffer says "JPEG".
JPEG_HEADER: Final = (
    b"\xff\xd8"
    + b"\xff\xe0"
    + struct.pack(">H", 16)
    + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@functools.lru_cache(maxsize=1)
def bomb_png(side: int = BOMB_SIDE) -> bytes:
    """A PNG whose header claims ``side`` x ``side`` RGB pixels; its data starts with rows of
    zeros that compress about 1000:1, so the file is a few KB."""
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    row = b"\x00" * (1 + side * 3)  # filter byte + black pixels
    data = zlib.compress(row * BOMB_ROWS_SENT, 9)
    return (
        PNG_SIGNATURE
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def bad_jpeg(key: str) -> bytes:
    """A valid JPEG header followed by noise with no marker in it: undecodable."""
    noise = random.Random(f"badimage|{key}").randbytes(BAD_JPEG_NOISE_BYTES)
    return JPEG_HEADER + noise.replace(b"\xff", b"\x00")


@functools.lru_cache(maxsize=1)
def nested_json(depth: int = NESTED_DEPTH) -> bytes:
    """``[[[...]]]`` nested ``depth`` levels: valid JSON that recursive parsers cannot read."""
    return b"[" * depth + b"]" * depth


@functools.lru_cache(maxsize=1)
def garbage_chunk() -> bytes:
    return random.Random("endless").randbytes(GARBAGE_CHUNK_BYTES)
