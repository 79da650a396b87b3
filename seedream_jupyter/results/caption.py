"""What every view says of a generation: its caption, the SIMULATED notice, and the small
JPEG contact sheet (with alt text) a Result, a ResultSet or a Sweep shows as."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, Final

from .. import images as _images
from ..config import SIMULATED_MARK, SIMULATED_NOTICE
from ..request import GenerationRequest

if TYPE_CHECKING:
    from PIL import Image as PILImage

NOT_BILLED_NOTE: Final = "(simulated: not billed)"
FROM_CACHE_NOTE = "from the history on disk: nothing billed"


def sheet_bundle(text: str, sheet: PILImage.Image | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A small JPEG contact sheet (never a multi-MB PNG) with alt text, plus the summary."""
    if sheet is None:
        return {"text/plain": text}, {}
    jpeg = base64.b64encode(_images.to_jpeg_bytes(sheet, 75)).decode()
    alt = {"image/jpeg": {"alt": text.splitlines()[0]}}
    return {"text/plain": text, "image/jpeg": jpeg}, alt


def caption(
    request: GenerationRequest,
    *,
    images: int = 0,
    simulated: bool = False,
    status: str = "",
    task_id: str = "",
    from_cache: bool = False,
    digits: int = 4,
) -> str:
    """The one line every view names a generation by: ``doubao-seedream-4.5 · group ×3 ·
    16:9 · 2K (2560×1440) · ≈ $0.0893 (simulated: not billed) · completed · task-…``.

    The count and the cost are those of the ``images`` that came back, once there are any;
    ``price unknown`` for a model id the catalog does not know."""
    width, height = request.pixel_size
    cost = request.spec.cost_text(images or request.output_count, digits)
    parts = [
        request.model,
        request.count_label(images),
        request.ratio_label,
        f"{request.resolution} ({width}×{height})",
        f"{cost} {NOT_BILLED_NOTE}" if simulated else cost,
        status,
        task_id,
        FROM_CACHE_NOTE if from_cache else "",
    ]
    return " · ".join(part for part in parts if part)


__all__ = [
    "FROM_CACHE_NOTE",
    "NOT_BILLED_NOTE",
    "SIMULATED_MARK",
    "SIMULATED_NOTICE",
    "caption",
    "sheet_bundle",
]
