"""Image inputs (PIL, path, bytes, numpy, URL, list) and outputs (decode, thumbnails, sheets)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from seedream_jupyter import catalog, images
from seedream_jupyter.errors import ValidationError
from seedream_jupyter.request import GenerationRequest

MAX_BYTES = catalog.MAX_INPUT_IMAGE_BYTES


def decode_uri(uri: str) -> tuple[str, bytes]:
    head, _, payload = uri.partition(",")
    assert head.startswith("data:") and head.endswith(";base64")
    return head[5 : -len(";base64")], base64.b64decode(payload)


def open_uri(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(decode_uri(uri)[1]))


# -- inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "CMYK", "1", "I;16"])
def test_pil_image_becomes_a_png_data_uri(mode: str) -> None:
    img = Image.new(mode, (40, 30))
    uri = images.to_image_url(img)
    mime, data = decode_uri(uri)
    assert mime == "image/png"
    back = Image.open(io.BytesIO(data))
    assert back.size == (40, 30)
    GenerationRequest(prompt="x", action="image2image", image_urls=(uri,))  # valid on the wire


def test_pil_pixels_survive() -> None:
    img = Image.new("RGB", (8, 8), (10, 200, 30))
    assert open_uri(images.to_image_url(img)).convert("RGB").getpixel((3, 3)) == (10, 200, 30)


def test_opened_jpeg_file_object_is_accepted(tmp_path: Path, image_bytes: Any) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(image_bytes(20, 10))
    with Image.open(path) as img:  # a JpegImageFile, module PIL.JpegImagePlugin
        assert open_uri(images.to_image_url(img)).size == (20, 10)


@pytest.mark.parametrize(
    ("fmt", "mime"), [("jpeg", "image/jpeg"), ("png", "image/png"), ("webp", "image/webp")]
)
def test_path_keeps_original_bytes(tmp_path: Path, image_bytes: Any, fmt: str, mime: str) -> None:
    data = image_bytes(24, 16, fmt)
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(data)
    for arg in (path, str(path)):
        assert decode_uri(images.to_image_url(arg)) == (mime, data)


def test_path_extension_does_not_matter(tmp_path: Path, image_bytes: Any) -> None:
    path = tmp_path / "actually-a-png.jpg"
    path.write_bytes(image_bytes(8, 8, "png"))
    assert decode_uri(images.to_image_url(path))[0] == "image/png"


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview])
def test_bytes_like(image_bytes: Any, wrap: Any) -> None:
    data = image_bytes(8, 8, "jpeg")
    assert decode_uri(images.to_image_url(wrap(data))) == ("image/jpeg", data)


def test_numpy_uint8_rgb() -> None:
    array = np.zeros((12, 20, 3), dtype=np.uint8)
    array[..., 0] = 255
    img = open_uri(images.to_image_url(array))
    assert img.size == (20, 12)
    assert img.convert("RGB").getpixel((5, 5)) == (255, 0, 0)


def test_numpy_uint8_gray_and_rgba() -> None:
    assert open_uri(images.to_image_url(np.full((6, 7), 128, dtype=np.uint8))).size == (7, 6)
    assert open_uri(images.to_image_url(np.zeros((6, 7, 4), dtype=np.uint8))).mode == "RGBA"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_float_in_0_1_is_scaled(dtype: Any) -> None:
    array = np.zeros((4, 6, 3), dtype=dtype)
    array[:, :3] = 1.0
    array[:, 3:] = 0.5
    array[0, 0] = 1.5  # overshoot: clipped
    img = open_uri(images.to_image_url(array)).convert("RGB")
    assert img.size == (6, 4)
    assert img.getpixel((1, 1)) == (255, 255, 255)
    assert img.getpixel((0, 0)) == (255, 255, 255)
    assert img.getpixel((4, 1)) == (127, 127, 127)


def test_numpy_float_in_0_255_and_16_bit_keep_their_brightness() -> None:
    as_float = np.asarray(Image.new("RGB", (5, 4), (100, 150, 200)), dtype=np.float32)
    assert open_uri(images.to_image_url(as_float)).getpixel((2, 2)) == (100, 150, 200)
    sixteen = np.full((4, 5), 100 * 257, dtype=np.uint16)
    assert open_uri(images.to_image_url(sixteen)).getpixel((2, 2)) == 100
    wide = np.full((4, 5, 3), 100, dtype=np.int64)
    assert open_uri(images.to_image_url(wide)).convert("RGB").getpixel((0, 0)) == (100, 100, 100)


@pytest.mark.parametrize(
    ("array", "why"),
    [
        (np.full((2, 2), 300, dtype=np.int32), "0–255"),
        (np.full((2, 2), np.nan), "NaN"),
        (np.zeros((0, 3)), "empty"),
    ],
)
def test_numpy_arrays_that_would_send_a_wrong_picture_are_refused(array: Any, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        images.to_image_url(array)


def test_unusable_numpy_array_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as info:
        images.to_image_url(np.zeros((2, 2, 7), dtype=np.int64))
    assert info.value.field == "images[0]"
    assert "array" in str(info.value.value)


@pytest.mark.parametrize(
    "url", ["https://example.com/a.png", "http://example.com/a", "HTTPS://EXAMPLE.COM/B"]
)
def test_urls_pass_through(url: str) -> None:
    assert images.to_image_url(url) == url


def test_data_uri_passes_through_after_checks(image_bytes: Any) -> None:
    uri = "data:image/png;base64," + base64.b64encode(image_bytes(4, 4, "png")).decode()
    assert images.to_image_url(uri) == uri
    gif = "data:image/gif;base64," + base64.b64encode(image_bytes(4, 4, "gif")).decode()
    with pytest.raises(ValidationError):
        images.to_image_url(gif)


def test_list_and_none(tmp_path: Path, image_bytes: Any) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(image_bytes(8, 8, "png"))
    items = [
        Image.new("RGB", (4, 4)),
        path,
        image_bytes(8, 8),
        np.zeros((3, 3, 3), np.uint8),
        "https://x.test/a.jpg",
    ]
    urls = images.to_image_urls(items)
    assert len(urls) == 5 and urls[-1] == "https://x.test/a.jpg"
    assert [u.split(";")[0] for u in urls[:4]] == [
        "data:image/png",
        "data:image/png",
        "data:image/jpeg",
        "data:image/png",
    ]
    assert images.to_image_urls(tuple(items[:2])) == urls[:2]
    assert images.to_image_urls(None) == ()
    assert images.to_image_urls(path) == (urls[1],)
    assert images.to_image_urls([]) == ()


def test_list_error_names_the_index(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        images.to_image_urls(["https://x.test/a.jpg", tmp_path / "missing.png"])
    assert info.value.field == "images[1]"


@pytest.mark.parametrize(
    "bad", ["no/such/file.png", Path("/definitely/not/here.jpg"), "ftp://example.com/a.png"]
)
def test_bad_path_or_url(bad: object) -> None:
    with pytest.raises(ValidationError) as info:
        images.to_image_url(bad)
    assert str(bad) in str(info.value)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file"):
        images.to_image_url(tmp_path)


def test_gif_bytes_and_file_rejected(tmp_path: Path, image_bytes: Any) -> None:
    gif = image_bytes(8, 8, "gif")
    with pytest.raises(ValidationError) as info:
        images.to_image_url(gif)
    assert "JPEG/PNG/WEBP" in info.value.allowed
    path = tmp_path / "anim.gif"
    path.write_bytes(gif)
    with pytest.raises(ValidationError, match="JPEG/PNG/WEBP"):
        images.to_image_url(path)


@pytest.mark.parametrize("junk", [b"", b"hello world", b"\x00" * 64])
def test_non_image_bytes_rejected(junk: bytes) -> None:
    with pytest.raises(ValidationError):
        images.to_image_url(junk)


@pytest.mark.parametrize("obj", [42, 3.5, {"a": 1}, object()])
def test_unsupported_types_rejected(obj: object) -> None:
    with pytest.raises(ValidationError) as info:
        images.to_image_url(obj)
    assert "PIL" in info.value.allowed and "numpy" in info.value.allowed


def test_file_over_30_mb_rejected_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.truncate(MAX_BYTES + 1)  # sparse: cheap
    with pytest.raises(ValidationError) as info:
        images.to_image_url(path)
    assert "30 MB" in info.value.allowed
    assert "huge.png" in str(info.value)


def test_bytes_over_30_mb_rejected() -> None:
    data = b"\x89PNG\r\n\x1a\n" + bytes(MAX_BYTES)
    with pytest.raises(ValidationError) as info:
        images.to_image_url(data)
    assert "30 MB" in info.value.allowed
    assert len(str(info.value)) < 200


# -- outputs ---------------------------------------------------------------------------------


def test_decode_returns_a_loaded_image(image_bytes: Any) -> None:
    img = images.decode(image_bytes(30, 20, "png"))
    assert img.size == (30, 20) and img.format == "PNG"
    img.getpixel((0, 0))  # loaded: works with the buffer gone


@pytest.mark.parametrize(
    ("size", "max_side"),
    [
        ((2048, 2048), 512),
        ((2560, 1440), 512),
        ((1440, 2560), 256),
        ((3024, 1296), 384),
        ((100, 50), 512),
    ],
)
def test_thumbnail_jpeg(image_bytes: Any, size: tuple[int, int], max_side: int) -> None:
    img = images.decode(image_bytes(*size))
    data = images.thumbnail_jpeg(img, max_side)
    assert data.startswith(b"\xff\xd8\xff")
    thumb = Image.open(io.BytesIO(data))
    assert thumb.format == "JPEG"
    assert max(thumb.size) <= max_side
    if max(size) > max_side:
        assert max(thumb.size) == max_side
        w, h = size
        assert abs(thumb.size[0] / thumb.size[1] - w / h) < 0.02
    else:
        assert thumb.size == size  # never upscaled
    assert img.size == size  # the original is untouched


def test_thumbnail_of_rgba_png(image_bytes: Any) -> None:
    img = Image.new("RGBA", (600, 300), (0, 0, 255, 128))
    assert Image.open(io.BytesIO(images.thumbnail_jpeg(img, 100))).size == (100, 50)


@pytest.mark.parametrize(
    ("count", "columns", "labels", "expected"),
    [
        # thumb_side=64, gap=6, label height 18; 100x50 images become 64x32 thumbs
        (3, None, None, (3 * 64 + 4 * 6, 32 + 2 * 6)),
        (3, 2, None, (2 * 64 + 3 * 6, 2 * 32 + 3 * 6)),
        (4, 1, None, (64 + 2 * 6, 4 * 32 + 5 * 6)),
        (2, 5, None, (2 * 64 + 3 * 6, 32 + 2 * 6)),  # columns capped at the image count
        (2, None, ["a", "b"], (2 * 64 + 3 * 6, 32 + 18 + 2 * 6)),
    ],
)
def test_contact_sheet_sizes(
    count: int, columns: int | None, labels: list[str] | None, expected: tuple[int, int]
) -> None:
    imgs = [Image.new("RGB", (100, 50), (i * 40, 0, 0)) for i in range(count)]
    sheet = images.contact_sheet(imgs, thumb_side=64, columns=columns, labels=labels)
    assert sheet.size == expected
    assert sheet.mode == "RGB"


def test_contact_sheet_mixed_orientations() -> None:
    imgs = [Image.new("RGB", (200, 100)), Image.new("RGB", (100, 200))]
    sheet = images.contact_sheet(imgs, thumb_side=50)
    assert sheet.size == (2 * 50 + 3 * 6, 50 + 2 * 6)  # row height = tallest thumb


def test_contact_sheet_empty() -> None:
    assert images.contact_sheet([], thumb_side=64).size == (64, 16)


def test_to_jpeg_bytes(image_bytes: Any) -> None:
    img = Image.new("RGBA", (10, 10))
    assert Image.open(io.BytesIO(images.to_jpeg_bytes(img))).format == "JPEG"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (30 * 2**20, "30 MB"),
        (30 * 2**20 + 40_000, "30.04 MB"),  # over the limit never reads as the limit
        (int(31.5 * 2**20), "31.5 MB"),
        (256 * 2**20, "256 MB"),
        (50_000, "49 KB"),
        (900, "900 bytes"),
    ],
)
def test_sizes_are_said_in_the_units_of_the_limits(size: int, text: str) -> None:
    from seedream_jupyter._formats import megabytes

    assert megabytes(size) == text
