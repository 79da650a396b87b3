"""Reference images sent with a request: decoded so that the drawing can show them.

``data:`` URIs are decoded; URLs pointing at this simulator's own ``/files/...`` are resolved
locally through a callback (no network); any other URL becomes a placeholder label, drawn as a
box saying "external reference" (the simulator never fetches from the internet).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable
from typing import Final

from PIL import Image

Reference = Image.Image | str  # an image, or the label of a placeholder box
EXTERNAL_LABEL: Final = "external reference"
MISSING_LABEL: Final = "missing reference"
COMPACT_ABOVE_CHARS: Final = 128 * 1024
_FILE_PATH = re.compile(r"^/files/(?P<task_id>[A-Za-z0-9_.-]+)/(?P<index>\d+)\.(?P<ext>jpe?g|png)$")


def parse_file_path(path: str) -> tuple[str, int, str] | None:
    """(task_id, index, extension) from ``/files/<task_id>/<index>.<ext>``, else None."""
    match = _FILE_PATH.match(path)
    if match is None:
        return None
    return match.group("task_id"), int(match.group("index")), match.group("ext")


def decode_data_uri(url: str) -> Image.Image:
    """Open a base64 ``data:`` URI as a (lazily loaded) PIL image; ``ValueError`` if broken."""
    _, _, payload = url.partition(",")
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4))
        image = Image.open(io.BytesIO(raw))
    except (binascii.Error, ValueError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"undecodable image data: {exc}") from None
    return image


def compact(url: str, max_side: int, keep_below: int = COMPACT_ABOVE_CHARS) -> str:
    """A large ``data:`` URI as a small JPEG one (longest side ``max_side``), so a finished task
    does not hold a user's full-size upload for the life of the process; other URLs unchanged."""
    if url[:5].lower() != "data:" or len(url) < keep_below:
        return url
    reference = load_reference(url, lambda _: None, max_side)
    if isinstance(reference, str):
        return url  # undecodable: keep it, drawing shows the placeholder either way
    out = io.BytesIO()
    reference.save(out, "JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def reference_size(
    url: str, local_size: Callable[[str], tuple[int, int] | None]
) -> tuple[int, int] | None:
    """Pixel size of a reference (for ``aspect_ratio="auto"``), or None when unknown."""
    if url[:5].lower() == "data:":
        try:
            return decode_data_uri(url).size
        except ValueError:
            return None
    return local_size(url)


def load_reference(
    url: str, local_image: Callable[[str], Reference | None], max_side: int
) -> Reference:
    """A small RGB copy of the reference (longest side ``max_side``), or a placeholder label.

    ``local_image`` resolves this simulator's own URLs: an image, a label when the URL is ours
    but unusable (unknown task, expired), or None when the URL is not ours.
    """
    if url[:5].lower() == "data:":
        try:
            image = decode_data_uri(url)
            image.draft("RGB", (max_side, max_side))  # fast JPEG downscale while decoding
            image = image.convert("RGB")
        except (ValueError, OSError):
            return MISSING_LABEL
    else:
        local = local_image(url)
        if local is None:
            return EXTERNAL_LABEL
        if isinstance(local, str):
            return local
        image = local.convert("RGB")
    image.thumbnail((max_side, max_side))
    return image
