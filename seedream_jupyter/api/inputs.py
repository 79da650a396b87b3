"""Image inputs as the helpers take them: a Result (or a list mixing Results and images) means
its images, and an input that came from a task names that task as the new one's parent.

One place for both, used wherever inputs become a request (``build.build_request``), so every
surface — the helpers, batch items, presets, the magic's ``-i``, the panel — gets them.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..results import INFO_TASK_ID, Result, ResultSet
from ..store import provenance


def flatten(images: object) -> object:
    """A Result or ResultSet as its images; in a list, each one expanded in place."""
    if isinstance(images, (Result, ResultSet)):
        return list(images.images)
    if isinstance(images, (list, tuple)):
        flat: list[object] = []
        for item in images:
            flat.extend(item.images if isinstance(item, (Result, ResultSet)) else [item])
        return flat
    return images


def parent_of(image: object) -> str | None:
    """The task an input image came from, when it says: a Result, an image a Result handed
    out, or a file (path or bytes) with embedded provenance."""
    if isinstance(image, Result):
        return image.task_id
    if isinstance(image, ResultSet):
        return next((r.task_id for r in image), None)
    if isinstance(image, (list, tuple)):
        return next((p for item in image if (p := parent_of(item)) is not None), None)
    info = getattr(image, "info", None)
    if isinstance(info, dict) and isinstance(info.get(INFO_TASK_ID), str):
        return str(info[INFO_TASK_ID])
    data: bytes | None = None
    if isinstance(image, (bytes, bytearray)):
        data = bytes(image)
    elif isinstance(image, (str, os.PathLike)) and not str(image).startswith(("http", "data:")):
        file = Path(image).expanduser()
        data = file.read_bytes() if file.is_file() else None
    meta = provenance.read(data) if data else None
    found = meta.get("task_id") if meta else None
    return found if isinstance(found, str) else None
