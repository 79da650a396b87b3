"""Files under the home directory: atomic, content-addressed writes, and reference images
moved out of stored payloads into ``inputs/`` (and back)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import _formats, images
from .schema import INPUT_SCHEME, INPUTS_DIR


def restore_inputs(payload: Mapping[str, Any], home: Path) -> dict[str, Any]:
    restored = dict(payload)
    urls = payload.get("image_urls")
    if not isinstance(urls, list) or not any(
        isinstance(u, str) and u.startswith(INPUT_SCHEME) for u in urls
    ):
        return restored
    out: list[Any] = []
    for url in urls:
        if isinstance(url, str) and url.startswith(INPUT_SCHEME):
            rel, _, prefix = url[len(INPUT_SCHEME) :].partition("#")
            try:
                raw = (home / rel).read_bytes()
            except OSError:
                out.append(url)  # the file is gone: the request cannot be rebuilt exactly
                continue
            out.append(f"{prefix},{base64.b64encode(raw).decode('ascii')}")
        else:
            out.append(url)
    restored["image_urls"] = out
    return restored


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file, or all of the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_content(path: Path, data: bytes) -> None:
    """Content-addressed write: an existing file of the right size already holds these bytes."""
    try:
        if path.stat().st_size == len(data):
            return
    except OSError:
        pass
    write_atomic(path, data)


def image_size(data: bytes) -> tuple[int | None, int | None]:
    """(width, height) from the header; (None, None) for bytes that are not a readable image
    (they are kept anyway)."""
    try:
        return images.size_of(data)
    except Exception:
        return None, None


def content_path(kind: str, digest: str, ext: str) -> str:
    return f"{kind}/{digest[:2]}/{digest}{ext}"


def store_inputs(
    payload: dict[str, Any], home: Path
) -> tuple[dict[str, Any], list[tuple[int, str, bytes]]]:
    """Move data: URIs out of the payload into content-addressed files under inputs/.

    Returns the light payload (``seedream-input:`` references) and (index, path, bytes) of
    each file, which the caller re-checks under the write lock.
    """
    urls = payload.get("image_urls")
    if not isinstance(urls, list):
        return payload, []
    stored: list[tuple[int, str, bytes]] = []
    light: list[Any] = []
    for idx, url in enumerate(urls):
        if not (isinstance(url, str) and url[:5].lower() == "data:"):
            light.append(url)
            continue
        prefix, _, encoded = url.partition(",")
        try:
            raw = base64.b64decode(encoded, validate=False)
        except (binascii.Error, ValueError):
            light.append(url)
            continue
        digest = hashlib.sha256(raw).hexdigest()
        ext = _formats.extension(raw)
        rel = content_path(INPUTS_DIR, digest, ext)
        write_content(home / rel, raw)
        stored.append((idx, rel, raw))
        light.append(f"{INPUT_SCHEME}{rel}#{prefix}")
    return {**payload, "image_urls": light}, stored
