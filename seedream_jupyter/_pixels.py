"""Pixels a reference image may carry, and how they become 8-bit: the rules for numpy dtypes
and shapes and for PIL modes, each converted faithfully or refused with what to pass instead.

Faithfully means the picture looks the same: 16-bit and 32-bit pixels are scaled, never
clipped (a clipped ``I;16`` image is pure white), floats are read as 0–1 or 0–255, and what
cannot be read either way (NaN, inf, -1..1 data, channels first, a batch axis) is refused.
Pure functions; numpy and PIL are only touched through the objects passed in.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

from .errors import ValidationError

if TYPE_CHECKING:
    from PIL import Image as PILImage

_FLOAT_UNIT_MAX: Final = 2.0  # floats up to this are 0–1 data (overshoot clipped), above 0–255
_FLOAT_255_MAX: Final = 255.5
_UNDERSHOOT: Final = 0.1  # negatives beyond this share of the range are not pixels (-1..1 data)
_KEEP_MODES: Final = frozenset({"RGB", "RGBA", "L", "LA"})
_ALPHA_MODES: Final = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})


def _extrema(img: PILImage.Image) -> tuple[float, float]:
    low, top = img.getextrema()[:2]
    return float(low), float(top)  # type: ignore[arg-type]


def _array_shape(array: Any, field: str, shown: str) -> Any:
    """The array as (H, W) or (H, W, 1–4), or a refusal saying what to pass instead."""
    if array.size == 0:
        raise ValidationError(field, shown, "the array is empty")
    if array.ndim == 3 and array.shape[2] == 1:
        return array[:, :, 0]
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (2, 3, 4)):
        return array
    if array.ndim == 3 and array.shape[0] in (1, 2, 3, 4):
        raise ValidationError(
            field, shown, "channels come last, (H, W, C): pass array.transpose(1, 2, 0)"
        )
    if array.ndim == 4 and array.shape[0] == 1:
        raise ValidationError(field, shown, "a batch of one image: pass array[0]")
    raise ValidationError(
        field, shown, "give a 2-D (H, W) array or a 3-D (H, W, C) one with 1 to 4 channels"
    )


def as_uint8(array: Any, field: str) -> Any:
    """8-bit pixels from a numpy array, or a refusal: bool as black/white, floats in 0–1
    (overshoot up to 2 clipped) or 0–255, uint16 scaled down, other integers taken as 0–255."""
    kind, shown = array.dtype.kind, f"<array {array.shape} {array.dtype}>"
    array = _array_shape(array, field, shown)
    if kind == "b":
        return array.astype("uint8") * 255
    if kind == "f":
        import numpy as np

        if not np.isfinite(array).all():
            which = "NaN" if np.isnan(array).any() else "infinite (inf)"
            raise ValidationError(
                field,
                shown,
                f"the array holds {which} values; replace them first "
                "(numpy.nan_to_num) and pass floats in 0–1",
            )
        low, top = float(array.min()), float(array.max())
        scale = 255.0 if top <= _FLOAT_UNIT_MAX else 1.0
        full = 1.0 if scale == 255.0 else 255.0
        if top > _FLOAT_255_MAX or low < -_UNDERSHOOT * full:
            raise ValidationError(
                field,
                shown,
                f"float pixels must be in 0–1 (or 0–255), these span "
                f"{low:g}..{top:g}; rescale first, e.g. (a - a.min()) / (a.max() - a.min())",
            )
        return (array * scale).clip(0, 255).astype("uint8")
    if kind in "iu":
        if kind == "u" and array.dtype.itemsize == 2:
            return (array // 257).astype("uint8")
        if kind == "u" and array.dtype.itemsize == 1:
            return array
        if int(array.min()) < 0 or int(array.max()) > 255:
            raise ValidationError(
                field, shown, "integer pixels must be 0–255 (or use uint8 / uint16 arrays)"
            )
        return array.astype("uint8")
    raise ValidationError(
        field, shown, "pixels must be numbers: pass a uint8 array, or floats in 0–1"
    )


def _float_pixels_ok(img: PILImage.Image) -> bool:
    """True when a 32-bit float image has no NaN (PIL's extrema skip them)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is there whenever arrays are
        from array import array

        values = array("f", img.tobytes())
        return not any(v != v for v in values)
    return not bool(np.isnan(np.asarray(img)).any())


def pil_pixels(img: PILImage.Image, field: str) -> PILImage.Image:
    """An image PNG stores as it looks: RGB, RGBA, L or LA; deep and odd modes converted
    faithfully (16-bit and 32-bit scaled, not clipped to white), or refused."""
    shown = f"<{img.mode} image {img.width}x{img.height}>"
    mode = img.mode
    if mode in _KEEP_MODES:
        return img
    if mode == "1":
        return img.convert("L")
    if mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in img.info
        alpha = alpha or (img.palette is not None and img.palette.mode == "RGBA")
        return img.convert("RGBA" if alpha else "RGB")
    if mode.startswith("I;16"):  # every byte order: through 32-bit, scaled, never clipped
        return img.convert("I").point(lambda v: v / 257).convert("L")
    if mode == "I":
        low, top = _extrema(img)
        if low < 0 or top > 65535:
            raise ValidationError(
                field,
                shown,
                f"32-bit pixels span {low}..{top}: scale them to 0–255 "
                "(or 0–65535) first, e.g. as a uint8 numpy array",
            )
        return img.convert("L") if top <= 255 else img.point(lambda v: v / 257).convert("L")
    if mode == "F":
        low, top = _extrema(img)
        if not _float_pixels_ok(img) or not math.isfinite(low) or not math.isfinite(top):
            raise ValidationError(
                field, shown, "the image holds NaN or infinite values; replace them"
            )
        scale = 255.0 if top <= _FLOAT_UNIT_MAX else 1.0
        full = 1.0 if scale == 255.0 else 255.0
        if top > _FLOAT_255_MAX or low < -_UNDERSHOOT * full:
            raise ValidationError(
                field, shown, f"float pixels must be in 0–1 (or 0–255), not {low:g}..{top:g}"
            )
        return img.point(lambda v: v * scale).convert("L")
    if mode == "La":
        return img.convert("LA")
    target = "RGBA" if mode in _ALPHA_MODES else "RGB"  # LAB's "A" is a colour, not alpha
    try:
        return img.convert(target)
    except ValueError:
        raise ValidationError(
            field, shown, f"PIL cannot convert mode {mode} to {target}: convert it first"
        ) from None
