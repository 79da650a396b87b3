"""Scorers for ``sweep.score(fn)``: small, dependency-free measures of an image.

A scorer is any ``fn(image, record) -> float``: ``image`` is a PIL image, ``record`` its row of
``to_records()`` (prompt, model, seed, axes, ...), so a CLIP-style scorer fits the same slot::

    def clip_score(image, record):            # your model, your weights
        return model.similarity(image, record["prompt"])
    sweep.score(clip_score)                   # a column "clip_score", a label under each cell

The built-in ones need only Pillow (numpy is used when it is installed, for speed; the
numbers are the same). Each works on a copy shrunk to at most ``WORK_SIDE`` pixels, so a 4K
image costs what a small one does and the numbers compare across resolutions.

- ``sharpness``: variance of the Laplacian of the grey image (higher: more fine detail).
- ``colourfulness`` (also ``colorfulness``): Hasler & Süsstrunk's M3 (0: grey; ~100: vivid).
- ``brightness``: mean luminance, 0–255.
- ``similarity_to(reference)``: a scorer of likeness to a reference image, 0–1 (1: the same).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from . import images as _images

if TYPE_CHECKING:
    from PIL import Image as PILImage

WORK_SIDE: Final = 512  # long side the built-in scorers measure at
SIMILARITY_SIDE: Final = 64  # both images are compared at this size
Record = Mapping[str, Any] | None

__all__ = [
    "brightness",
    "colorfulness",
    "colourfulness",
    "sharpness",
    "similarity_to",
]


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def _small(image: PILImage.Image, side: int = WORK_SIDE) -> PILImage.Image:
    return _images.thumbnail(image, side)


def _stats(values: Sequence[float]) -> tuple[float, float]:
    """(mean, population standard deviation)."""
    count = len(values) or 1
    mean = math.fsum(values) / count
    return mean, math.sqrt(max(0.0, math.fsum((v - mean) ** 2 for v in values) / count))


def sharpness(image: PILImage.Image, record: Record = None) -> float:
    """Variance of the 4-neighbour Laplacian of the grey image (blur lowers it)."""
    grey = _small(image).convert("L")
    width, height = grey.size
    if width < 3 or height < 3:
        return 0.0
    np = _numpy()
    if np is not None:
        a = np.asarray(grey, dtype=np.float64)
        lap = a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - 4 * a[1:-1, 1:-1]
        return float(lap.var())
    px = list(grey.tobytes())
    lap = [
        px[(y - 1) * width + x]
        + px[(y + 1) * width + x]
        + px[y * width + x - 1]
        + px[y * width + x + 1]
        - 4 * px[y * width + x]
        for y in range(1, height - 1)
        for x in range(1, width - 1)
    ]
    return _stats(lap)[1] ** 2


def colourfulness(image: PILImage.Image, record: Record = None) -> float:
    """Hasler & Süsstrunk (2003): std and mean of the opponent channels rg and yb."""
    rgb = _small(image).convert("RGB")
    np = _numpy()
    if np is not None:
        a = np.asarray(rgb, dtype=np.float64)
        rg = a[..., 0] - a[..., 1]
        yb = 0.5 * (a[..., 0] + a[..., 1]) - a[..., 2]
        std = math.hypot(float(rg.std()), float(yb.std()))
        mean = math.hypot(float(rg.mean()), float(yb.mean()))
        return std + 0.3 * mean
    raw = rgb.tobytes()
    pixels = list(zip(raw[0::3], raw[1::3], raw[2::3]))
    rg_mean, rg_std = _stats([float(r - g) for r, g, _ in pixels])
    yb_mean, yb_std = _stats([0.5 * (r + g) - b for r, g, b in pixels])
    return math.hypot(rg_std, yb_std) + 0.3 * math.hypot(rg_mean, yb_mean)


colorfulness = colourfulness


def brightness(image: PILImage.Image, record: Record = None) -> float:
    """Mean luminance (ITU-R 601 grey), 0 (black) to 255 (white)."""
    from PIL import ImageStat

    return float(ImageStat.Stat(_small(image).convert("L")).mean[0])


def _signature(image: PILImage.Image) -> list[float]:
    from PIL import Image

    small = image.convert("RGB").resize(
        (SIMILARITY_SIDE, SIMILARITY_SIDE), Image.Resampling.BOX, reducing_gap=2.0
    )
    return [float(v) for v in small.tobytes()]


def similarity_to(reference: object, *, name: str = "similarity") -> Callable[..., float]:
    """A scorer of likeness to ``reference`` (a PIL image, a path or bytes): 1 minus the mean
    absolute difference of the two images at 64×64, so 1.0 is identical and 0.0 opposite."""
    if hasattr(reference, "getpixel"):
        ref_image: Any = reference
    else:
        ref_image = _images.decode(reference)  # type: ignore[arg-type]
    target = _signature(ref_image)

    def similarity(image: PILImage.Image, record: Record = None) -> float:
        values = _signature(image)
        diff = math.fsum(abs(a - b) for a, b in zip(values, target)) / len(target)
        return 1.0 - diff / 255.0

    similarity.__name__ = name
    return similarity
