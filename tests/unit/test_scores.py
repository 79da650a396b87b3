"""``sj.scores``: the built-in scorers, with and without numpy, on images made here."""

from __future__ import annotations

import sys

import pytest
from PIL import Image, ImageDraw, ImageFilter

import seedream_jupyter as sj


def checkerboard(size: int = 256, cell: int = 8) -> Image.Image:
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    for y in range(0, size, cell):
        for x in range((y // cell % 2) * cell, size, 2 * cell):
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill="black")
    return img


@pytest.fixture(params=["numpy", "pure"])
def maybe_numpy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "pure":
        monkeypatch.setitem(sys.modules, "numpy", None)
    return str(request.param)


def test_sharpness_drops_with_blur(maybe_numpy: str) -> None:
    sharp = checkerboard()
    blurred = sharp.filter(ImageFilter.GaussianBlur(4))
    assert sj.scores.sharpness(sharp) > 10 * sj.scores.sharpness(blurred)
    assert sj.scores.sharpness(Image.new("RGB", (64, 64), "grey")) == 0


def test_colourfulness_orders_grey_pastel_vivid(maybe_numpy: str) -> None:
    grey = Image.new("RGB", (64, 64), (128, 128, 128))
    pastel = Image.new("RGB", (64, 64), (200, 170, 180))
    vivid = Image.new("RGB", (64, 64), (250, 20, 30))
    values = [sj.scores.colourfulness(img) for img in (grey, pastel, vivid)]
    assert values[0] == pytest.approx(0) and values[0] < values[1] < values[2]
    assert sj.scores.colorfulness is sj.scores.colourfulness


def test_the_numbers_do_not_depend_on_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    img = checkerboard().convert("RGB").rotate(17, fillcolor=(200, 40, 90))
    with_numpy = (sj.scores.sharpness(img), sj.scores.colourfulness(img))
    monkeypatch.setitem(sys.modules, "numpy", None)
    without = (sj.scores.sharpness(img), sj.scores.colourfulness(img))
    assert with_numpy == pytest.approx(without, rel=1e-9)


def test_brightness_and_similarity() -> None:
    assert sj.scores.brightness(Image.new("RGB", (8, 8), "white")) == pytest.approx(255)
    board = checkerboard()
    like = sj.scores.similarity_to(board)
    assert like(board) == pytest.approx(1.0)
    assert like(board.filter(ImageFilter.GaussianBlur(1))) > like(Image.new("RGB", (9, 9), "red"))
    assert like.__name__ == "similarity"
    assert sj.scores.similarity_to(board, name="like_ref").__name__ == "like_ref"
