"""Image inputs and outputs.

Inputs (PIL image, path, bytes, numpy array, http(s) URL, or a list of them) become
URLs or ``data:`` URIs after size and format checks. Outputs are decoded lazily and
shrunk to JPEG thumbnails and contact sheets for display. PIL is imported on use.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Union

from . import _formats, _pixels, catalog
from .errors import ImageTooLargeError, ValidationError
from .request import check_image_url

if TYPE_CHECKING:
    from PIL import Image as PILImage

_MAX_MB = _formats.megabytes(catalog.MAX_INPUT_IMAGE_BYTES)
_ALLOWED = "/".join(f.upper() for f in catalog.INPUT_IMAGE_FORMATS)
# What PIL raises for bytes that are not a decodable image (truncated, corrupt, noise).
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error)


def _data_uri(data: bytes, fmt: str) -> str:
    mime = _formats.MIME[fmt]
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _why(exc: BaseException) -> str:
    """PIL's reason, without the repr of a buffer it names."""
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):
        return "PIL cannot identify it: a valid header followed by garbage, or no image at all"
    return str(exc) or type(exc).__name__


def _verified(data: bytes, field: str, what: str) -> str:
    """The format of ``data`` after a full decode (verify, then load): sniffing the first
    bytes is not enough, a PNG cut short or a JPEG header followed by noise is refused."""
    from PIL import Image

    fmt = _formats.sniff(data[: _formats.HEAD_BYTES])
    if fmt is None:
        raise ValidationError(
            field, f"<{what}>", f"images must be {_ALLOWED}; convert it first (e.g. with Pillow)"
        )
    try:
        with Image.open(io.BytesIO(data)) as img:
            check_pixels(img.width, img.height)
            img.verify()
        with Image.open(io.BytesIO(data)) as img:
            img.load()
    except (ImageTooLargeError, Image.DecompressionBombError) as exc:
        raise ValidationError(field, f"<{what}>", f"{exc}; resize it first") from None
    except _DECODE_ERRORS as exc:
        raise ValidationError(
            field,
            f"<{what}>",
            f"it looks like {fmt.upper()} but does not decode ({_why(exc)}): "
            "the file is truncated or corrupt; export it again",
        ) from None
    return fmt


def _bytes_to_uri(data: bytes, field: str, what: str) -> str:
    if len(data) > catalog.MAX_INPUT_IMAGE_BYTES:
        raise ValidationError(
            field, f"<{what}: {_formats.megabytes(len(data))}>", f"at most {_MAX_MB}"
        )
    return _data_uri(data, _verified(data, field, what))


def _pil_to_uri(img: PILImage.Image, field: str) -> str:
    shown = f"<{img.mode} image {img.width}x{img.height}>"
    try:
        check_pixels(img.width, img.height)
        img.load()  # a lazily opened file: decoded in full here, not half-sent
    except ImageTooLargeError as exc:
        raise ValidationError(field, shown, f"{exc}; resize it first") from None
    except _DECODE_ERRORS as exc:
        raise ValidationError(
            field, shown, f"the image does not decode ({exc}): its file is truncated or corrupt"
        ) from None
    original = _unchanged_file_bytes(img)
    if original is not None:  # the file as it is: no 20 MB PNG of a 3 MB JPEG
        return _bytes_to_uri(original, field, Path(str(getattr(img, "filename", ""))).name)
    img = _pixels.pil_pixels(img, field)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", optimize=False)
    data = buffer.getvalue()
    if len(data) > catalog.MAX_INPUT_IMAGE_BYTES:  # a lossless PNG too large: fall back to JPEG
        buffer = io.BytesIO()
        img.convert("RGB").save(buffer, format="JPEG", quality=92)
        data = buffer.getvalue()
    return _bytes_to_uri(data, field, f"{img.width}x{img.height} image")


def _unchanged_file_bytes(img: PILImage.Image) -> bytes | None:
    """The bytes of the file a PIL image was opened from, when its pixels are still exactly
    the file's (a Result's image, ``Image.open(path)``): sending them re-encodes nothing. A
    PIL image is mutable, so the file is decoded again and compared, pixel for pixel."""
    from PIL import Image

    filename = getattr(img, "filename", "")
    if not filename or img.format not in ("JPEG", "PNG", "WEBP"):
        return None
    try:
        data = Path(filename).read_bytes()
        if len(data) > catalog.MAX_INPUT_IMAGE_BYTES:
            return None
        with Image.open(io.BytesIO(data)) as fresh:
            fresh.load()
            same = fresh.mode == img.mode and fresh.size == img.size
            if same and fresh.tobytes() == img.tobytes():
                return data
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return None


def _data_uri_to_checked(url: str, index: int) -> str:
    """A ``data:`` URI whose whole body is valid base64 of an image that decodes."""
    check_image_url(url, index)
    field = f"images[{index}]"
    encoded = url.partition(",")[2]
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(
            field, url[:40] + "...", "the data: URI is not valid base64"
        ) from None
    _verified(raw, field, "data: URI")
    return url


def _path_to_uri(obj: str | os.PathLike[str], field: str) -> str:
    try:
        path = Path(obj).expanduser()
        if not path.is_file():
            raise ValidationError(field, str(obj), "no such file; give a path, URL or image")
        size = path.stat().st_size
        if size > catalog.MAX_INPUT_IMAGE_BYTES:
            raise ValidationError(
                field, str(obj), f"the file is {_formats.megabytes(size)}; at most {_MAX_MB}"
            )
        data = path.read_bytes()
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        raise ValidationError(field, str(obj)[:200], f"the file cannot be read ({exc})") from None
    return _bytes_to_uri(data, field, path.name)


def to_image_url(obj: object, index: int = 0) -> str:
    """One image input as an http(s) URL or a ``data:`` URI; ValidationError if unusable.

    Local images are decoded in full before anything is sent (a corrupt or truncated file is
    refused); PIL modes and numpy dtypes are converted faithfully or refused with what to
    pass instead.
    """
    field = f"images[{index}]"
    if isinstance(obj, str) and obj[:5].lower() == "data:":
        return _data_uri_to_checked(obj, index)
    if isinstance(obj, str) and obj.lower().startswith(("http://", "https://")):
        check_image_url(obj, index)
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return _path_to_uri(obj, field)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return _bytes_to_uri(bytes(obj), field, "bytes")
    module = type(obj).__module__
    if module.startswith("PIL."):
        return _pil_to_uri(obj, field)  # type: ignore[arg-type]
    if module.startswith("numpy") and hasattr(obj, "shape") and hasattr(obj, "dtype"):
        import numpy as np
        from PIL import Image

        array: Any = np.ascontiguousarray(_pixels.as_uint8(obj, field))
        try:
            img = Image.fromarray(array)
        except (TypeError, ValueError) as exc:
            raise ValidationError(field, f"<array {array.shape} {array.dtype}>", str(exc)) from None
        return _pil_to_uri(img, field)
    raise ValidationError(
        field,
        type(obj).__name__,
        "give a PIL image, a path, bytes, a numpy array or an http(s) URL",
    )


def to_image_urls(images: object) -> tuple[str, ...]:
    """None, one image, or a list of images, as a tuple of URLs / data URIs."""
    if images is None:
        return ()
    if isinstance(images, (list, tuple)):
        return tuple(to_image_url(item, i) for i, item in enumerate(images))
    return (to_image_url(images, 0),)


def check_result(data: bytes) -> tuple[int, int]:
    """(width, height) of a downloaded result image, or ``ValueError`` saying why it cannot be
    used: a decompression bomb (``ImageTooLargeError``) or bytes that do not decode.

    The header is read first (a bomb is refused before any pixel). JPEGs are then decoded at
    1/8 scale (every scan read, a fraction of the cost), PNGs have every chunk and CRC checked
    (a full inflate costs up to a second for a 4K PNG, and the thumbnail makes one anyway),
    WEBPs are decoded.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            check_pixels(img.width, img.height)
            size = (int(img.width), int(img.height))
            if img.format == "PNG":
                img.verify()
            else:
                if img.format == "JPEG":
                    img.draft("RGB", (max(1, img.width // 8), max(1, img.height // 8)))
                img.load()
    except ImageTooLargeError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"a decompression bomb ({exc}); not decoded") from None
    except _DECODE_ERRORS as exc:
        raise ValueError(f"it does not decode as an image ({_why(exc)}); not kept") from None
    return size


# -- outputs: the only decode and thumbnail path ------------------------------------------------

ImageSource = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", "PILImage.Image"]
# A real 4K output is 16.7 megapixels; anything claiming far more is a decompression bomb.
MAX_DECODE_PIXELS: Final = 64_000_000


def _open(source: ImageSource) -> PILImage.Image:
    """A lazily opened image (header read, pixels not decoded), size-checked."""
    from PIL import Image

    img: PILImage.Image
    try:
        if isinstance(source, (bytes, bytearray, memoryview)):
            img = Image.open(io.BytesIO(bytes(source)))
        elif isinstance(source, (str, os.PathLike)):
            img = Image.open(Path(source))
        else:
            img = source
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"the image is a decompression bomb ({exc}); it is not decoded"
        ) from None
    check_pixels(img.width, img.height)
    return img


def check_pixels(width: int, height: int) -> None:
    """Refuse an image whose header claims more pixels than any real output has."""
    if width * height > MAX_DECODE_PIXELS:
        raise ImageTooLargeError(
            f"the image claims {width}×{height} pixels, more than the {MAX_DECODE_PIXELS:,} "
            "this package decodes (a real 4K output has 16.7 million): it looks like a "
            "decompression bomb and is not decoded"
        )


def decode(source: ImageSource) -> PILImage.Image:
    """A result image as a fully loaded PIL image (size-checked first)."""
    img = _open(source)
    img.load()
    return img


def size_of(source: ImageSource) -> tuple[int, int]:
    """(width, height) from the header alone (a file opened here is closed here)."""
    img = _open(source)
    size = int(img.width), int(img.height)
    if img is not source:  # ours, not the caller's image: nothing will load (and close) it
        img.close()
    return size


def thumbnail(source: ImageSource, max_side: int = 512) -> PILImage.Image:
    """A small RGB copy whose long side is at most ``max_side``.

    From bytes or a file the image is opened lazily, so JPEGs are draft-decoded at 1/2 to 1/8
    scale and the full-size pixels are never decoded whole nor kept; an image already in memory
    is reduced first, so it is never copied at full size.
    """
    from PIL import Image

    in_memory = not isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike))
    img = _open(source)
    if in_memory:
        factor = max(1, min(img.width, img.height, max(img.size) // max(1, max_side)))
        small = img.reduce(factor) if factor > 1 else img.copy()
    else:
        small = img  # ``thumbnail`` below draft-decodes a fresh JPEG on its own
    small.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    if small.mode not in ("RGB", "L"):
        small = small.convert("RGB")
    return small


def to_jpeg_bytes(img: PILImage.Image, quality: int = 80) -> bytes:
    buffer = io.BytesIO()
    img.convert("RGB").save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


def thumbnail_jpeg(source: ImageSource, max_side: int = 512, quality: int = 80) -> bytes:
    """A JPEG thumbnail whose long side is at most ``max_side`` pixels."""
    return to_jpeg_bytes(thumbnail(source, max_side), quality)


def contact_sheet(
    sources: Sequence[ImageSource],
    *,
    thumb_side: int = 384,
    columns: int | None = None,
    labels: Sequence[str] | None = None,
    background: tuple[int, int, int] = (245, 245, 245),
) -> PILImage.Image:
    """The images side by side in a grid of cells ``thumb_side`` wide, with optional labels."""
    from PIL import Image, ImageDraw

    if not sources:
        return Image.new("RGB", (thumb_side, thumb_side // 4), background)
    columns = max(1, min(columns or len(sources), len(sources)))
    rows = -(-len(sources) // columns)
    gap = 6
    label_h = 18 if labels else 0
    thumbs = [thumbnail(source, thumb_side) for source in sources]
    cell_h = max(t.height for t in thumbs) + label_h
    sheet = Image.new(
        "RGB",
        (columns * thumb_side + (columns + 1) * gap, rows * cell_h + (rows + 1) * gap),
        background,
    )
    draw = ImageDraw.Draw(sheet)
    for i, thumb in enumerate(thumbs):
        row, col = divmod(i, columns)
        x = gap + col * (thumb_side + gap) + (thumb_side - thumb.width) // 2
        y = gap + row * (cell_h + gap)
        sheet.paste(thumb.convert("RGB"), (x, y + label_h))
        if labels and i < len(labels):
            draw.text(
                (gap + col * (thumb_side + gap) + 2, y + 3), labels[i][:60], fill=(40, 40, 40)
            )
    return sheet
