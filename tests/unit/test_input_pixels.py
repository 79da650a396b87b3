"""Reference images are verified, not sniffed, and every PIL mode and numpy dtype is either
converted faithfully (the picture looks the same) or refused with what to pass instead."""

from __future__ import annotations

import base64
import io
import random
import re
from typing import Any

import numpy as np
import pytest
from PIL import Image

from seedream_jupyter import images
from seedream_jupyter.errors import ImageTooLargeError, ValidationError
from seedream_jupyter.simulator import hostile


def sent(obj: object) -> Image.Image:
    """The image as the server would receive it."""
    uri = images.to_image_url(obj)
    head, _, data = uri.partition(",")
    assert head.startswith("data:image/")
    return Image.open(io.BytesIO(base64.b64decode(data)))


def pixel(img: Image.Image, xy: tuple[int, int] = (0, 0)) -> Any:
    return img.convert("L").getpixel(xy)


# -- PIL modes: converted faithfully ---------------------------------------------------------
def test_16_bit_pil_keeps_its_brightness_not_white() -> None:
    img = Image.fromarray(np.full((4, 4), 100 * 257, dtype=np.uint16))
    assert img.mode == "I;16"
    assert pixel(sent(img)) == 100  # was 255: clipped to white


def test_32_bit_integer_pil_is_scaled_from_16_bit_range() -> None:
    img = Image.fromarray(np.array([[0, 30000, 65535]], dtype=np.int32))
    assert img.mode == "I"
    assert [pixel(sent(img), (x, 0)) for x in range(3)] == [0, 116, 255]


def test_32_bit_integer_pil_in_0_255_is_taken_as_8_bit() -> None:
    img = Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32))
    assert [pixel(sent(img), (x, 0)) for x in range(3)] == [0, 100, 255]


@pytest.mark.parametrize(
    ("values", "expected"), [([0.0, 0.5, 1.0], [0, 127, 255]), ([0.0, 100.0, 255.0], [0, 100, 255])]
)
def test_float_pil_reads_0_1_or_0_255(values: list[float], expected: list[int]) -> None:
    img = Image.fromarray(np.array([values], dtype=np.float32))
    assert [pixel(sent(img), (x, 0)) for x in range(3)] == expected


def test_palette_with_transparency_keeps_its_alpha() -> None:
    img = Image.new("P", (4, 4), 0)
    img.putpalette([255, 0, 0] + [0, 0, 0] * 255)
    img.info["transparency"] = 0
    assert sent(img).mode == "RGBA"


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("1", "L"), ("CMYK", "RGB"), ("YCbCr", "RGB"), ("LAB", "RGB"), ("HSV", "RGB"),
     ("RGBX", "RGB"), ("RGBa", "RGBA"), ("La", "LA"), ("PA", "RGBA"), ("I;16B", "L")],
)  # fmt: skip
def test_every_other_mode_becomes_what_png_keeps(mode: str, expected: str) -> None:
    assert sent(Image.new(mode, (6, 4))).mode == expected


@pytest.mark.parametrize(
    ("img", "why"),
    [
        (Image.fromarray(np.array([[0, 70000]], dtype=np.int32)), "0–65535"),
        (Image.fromarray(np.array([[0.0, np.nan]], dtype=np.float32)), "NaN"),
        (Image.fromarray(np.array([[0.0, np.inf]], dtype=np.float32)), "infinite"),
        (Image.fromarray(np.array([[-1.0, 1.0]], dtype=np.float32)), "0–1"),
    ],
)
def test_deep_pil_images_that_cannot_be_read_either_way_are_refused(
    img: Image.Image, why: str
) -> None:
    with pytest.raises(ValidationError, match=why) as info:
        images.to_image_url(img)
    assert info.value.field == "images[0]"


# -- numpy: dtypes and shapes -------------------------------------------------------------------
def test_int8_in_range_is_accepted_as_documented() -> None:
    assert pixel(sent(np.full((4, 4), 100, dtype=np.int8))) == 100


def test_bool_arrays_are_black_and_white() -> None:
    array = np.array([[True, False]])
    img = sent(array)
    assert [pixel(img, (0, 0)), pixel(img, (1, 0))] == [255, 0]


def test_one_channel_last_axis_is_grayscale_and_big_endian_16_bit_is_read() -> None:
    assert sent(np.full((4, 5, 1), 7, dtype=np.uint8)).size == (5, 4)
    big = np.full((3, 3), 200 * 257, dtype=">u2")
    assert pixel(sent(big)) == 200


def test_non_contiguous_views_are_sent_as_they_look() -> None:
    base = np.zeros((8, 8, 3), dtype=np.uint8)
    base[:, :, 0] = 255
    view = base[::2, ::-1]
    assert sent(view).convert("RGB").getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("array", "says"),
    [
        (np.full((4, 4, 3), np.inf), "infinite"),
        (np.array([[0.0, -np.inf]]), "infinite"),
        (np.full((4, 4), -3, dtype=np.int8), "0–255"),
        (np.zeros((3, 8, 8), dtype=np.uint8), "transpose(1, 2, 0)"),
        (np.zeros((1, 8, 8, 3), dtype=np.uint8), "array[0]"),
        (np.zeros(8, dtype=np.uint8), "2-D"),
        (np.zeros((4, 4), dtype=np.complex64), "numbers"),
        (np.linspace(-1, 1, 16).reshape(4, 4), "rescale"),
        (np.linspace(0, 1000, 16).reshape(4, 4), "0–255"),
    ],
)
def test_arrays_that_would_be_misread_say_what_to_pass(array: Any, says: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(says)):
        images.to_image_url(array)


# -- bytes, files and data URIs: decoded in full ---------------------------------------------------
def _png(size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, random.Random(3).randbytes(size[0] * size[1] * 3)).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        _png()[:300],
        hostile.JPEG_HEADER + bytes(4096),
        b"\x89PNG\r\n\x1a\n" + bytes(64),
        _png()[:-20],
    ],
    ids=["png-cut-300", "jpeg-header-zeros", "png-signature-only", "png-without-iend"],
)
def test_broken_bytes_are_refused_though_their_header_looks_right(data: bytes) -> None:
    with pytest.raises(ValidationError, match=r"truncated or corrupt|not valid|does not decode"):
        images.to_image_url(data)


def test_a_data_uri_is_decoded_in_full() -> None:
    good = "data:image/png;base64," + base64.b64encode(_png()).decode()
    assert images.to_image_url(good) == good
    broken = "data:image/png;base64," + base64.b64encode(_png()[:400]).decode()
    with pytest.raises(ValidationError, match="truncated or corrupt"):
        images.to_image_url(broken)


def test_a_bomb_reference_is_refused_without_decoding() -> None:
    with pytest.raises(ValidationError, match="resize it first"):
        images.to_image_url(hostile.bomb_png())


# -- results: checked before they are kept ---------------------------------------------------------
def test_check_result_passes_real_images_and_refuses_bombs_and_garbage() -> None:
    assert images.check_result(_png((40, 30))) == (40, 30)
    buffer = io.BytesIO()
    Image.new("RGB", (32, 16)).save(buffer, format="JPEG")
    assert images.check_result(buffer.getvalue()) == (32, 16)
    with pytest.raises(ImageTooLargeError):
        images.check_result(hostile.bomb_png())
    with pytest.raises(ValueError, match="does not decode"):
        images.check_result(hostile.bad_jpeg("x"))
    with pytest.raises(ValueError, match="does not decode"):
        images.check_result(_png()[:-30])
