"""The labelled comparison grid of a Sweep, drawn from Results in memory (no server): margins
that grow with their text, each cell where its row and column say, groups side by side,
captions, and the places of skipped or failed combinations."""

from __future__ import annotations

import io
import itertools
from typing import Any

import pytest
from PIL import Image

from seedream_jupyter.errors import TaskFailedError, ValidationError
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.results import Combination, Result, Sweep
from seedream_jupyter.results.grid import GridSpec, Tile, draw_grid
from seedream_jupyter.task import ImageRef, Task, TaskStatus

COLOURS = [(220, 30, 30), (30, 160, 40), (30, 60, 220), (230, 200, 20), (150, 40, 170)]


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (120, 80)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def result(task_id: str, *colours: tuple[int, int, int], prompt: str = "x") -> Result:
    refs = tuple(ImageRef(f"https://cdn.test/{task_id}/{i}") for i in range(len(colours)))
    task = Task(task_id, TaskStatus.COMPLETED, 100, images=refs)
    return Result(task, GenerationRequest(prompt=prompt), image_bytes=[solid(c) for c in colours])


def make_sweep(
    axes: dict[str, list[Any]],
    *,
    groups: int = 1,
    rows: Any = None,
    cols: Any = None,
    missing: dict[int, str] | None = None,
) -> tuple[Sweep, dict[int, tuple[int, int, int]]]:
    """A sweep whose combination i has images of colour COLOURS[i % 5]; ``missing`` maps a
    combination to "skip" or "fail"."""
    combos, outcomes, colour_of = [], {}, {}
    missing = missing or {}
    for number, position in enumerate(itertools.product(*(range(len(v)) for v in axes.values()))):
        values = {name: axes[name][i] for name, i in zip(axes, position)}
        label = ", ".join(f"{k}={v}" for k, v in values.items())
        skipped = "resolution='1K': no" if missing.get(number) == "skip" else None
        request = None if skipped else GenerationRequest(prompt=label)
        combos.append(Combination(values, dict(zip(axes, position)), label, request, skipped))
        colour = COLOURS[number % len(COLOURS)]
        colour_of[number] = colour
        if missing.get(number) == "fail":
            outcomes[number] = TaskFailedError("task-f", "task_failed", "the model refused")
        elif not skipped:
            outcomes[number] = result(f"task-{number}", *([colour] * groups))
    return Sweep("a {a} in {b}", axes, combos, outcomes, rows=rows, cols=cols), colour_of


def near(pixel: Any, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(int(p) - c) <= tolerance for p, c in zip(pixel, colour))


def centre(box: tuple[int, int, int, int]) -> tuple[int, int]:
    return ((box[0] + box[2]) // 2, box[1] + 20)


def test_each_cell_sits_where_its_row_and_column_say() -> None:
    axes = {"a": ["fox", "owl", "cat"], "b": ["ink", "oil"]}
    sweep, colour_of = make_sweep(axes)
    sheet = sweep.grid(rows="a", cols="b", thumb_side=96)
    cells, keys = sheet.info["cells"], sheet.info["cell_keys"]
    assert set(cells) == {(r, c) for r in range(3) for c in range(2)}
    for number, combo in enumerate(sweep.combinations):
        where = (combo.indices["a"], combo.indices["b"])
        assert keys[where] == ((combo.indices["a"],), (combo.indices["b"],))
        x0, y0, _x1, _ = cells[where]
        assert near(sheet.getpixel((x0 + 48, y0 + 20)), colour_of[number]), combo.label
    # rows go down, columns go right
    assert cells[(1, 0)][1] > cells[(0, 0)][1] and cells[(0, 1)][0] > cells[(0, 0)][0]
    # transposed: the same image moves to the transposed cell
    flipped = sweep.grid(rows="b", cols="a", thumb_side=96)
    box = flipped.info["cells"][(1, 2)]  # b=oil, a=cat: combination 5
    assert near(flipped.getpixel((box[0] + 48, box[1] + 20)), colour_of[5])


def test_margins_grow_with_the_header_text() -> None:
    short, _ = make_sweep({"a": ["fox", "owl"], "b": ["ink", "oil"]})
    long_rows, _ = make_sweep({"a": ["a fox in the snow", "owl"], "b": ["ink", "oil"]})
    long_cols, _ = make_sweep(
        {"a": ["fox", "owl"], "b": ["ink", "an oil painting in the manner of the old masters"]}
    )
    base = short.grid(rows="a", cols="b", thumb_side=96)
    wider = long_rows.grid(rows="a", cols="b", thumb_side=96)
    taller = long_cols.grid(rows="a", cols="b", thumb_side=96)
    left = base.info["cells"][(0, 0)][0]
    assert wider.info["cells"][(0, 0)][0] > left  # the left margin grew with the row label
    assert wider.width > base.width and wider.height == base.height
    top = base.info["cells"][(0, 0)][1]
    assert taller.info["cells"][(0, 0)][1] > top  # the column label wrapped: a taller top
    assert taller.width == base.width
    # past its cap a row label wraps: the margin stops growing and the row grows instead
    huge, _ = make_sweep({"a": ["word " * 60, "owl"], "b": ["ink"]})
    sheet = huge.grid(rows="a", cols="b", thumb_side=96)
    assert sheet.info["cells"][(0, 0)][0] <= 160 + 2 * 6 + 8
    assert sheet.info["cells"][(0, 0)][3] - sheet.info["cells"][(0, 0)][1] > 96


def test_the_other_axes_and_a_group_sit_side_by_side_in_a_cell() -> None:
    sweep, colour_of = make_sweep({"a": ["fox"], "b": ["ink", "oil"], "seed": [1, 2]}, groups=2)
    sheet = sweep.grid(rows="a", cols="b", thumb_side=64)
    x0, y0, x1, _ = sheet.info["cells"][(0, 0)]
    assert x1 - x0 == 4 * 64 + 3 * 4  # two seeds × two images
    # seed=1 first (twice, a group of two), then seed=2
    for slot, number in enumerate([0, 0, 1, 1]):
        assert near(sheet.getpixel((x0 + slot * 68 + 32, y0 + 10)), colour_of[number])


def test_defaults_names_and_the_flat_sheet() -> None:
    sweep, _ = make_sweep({"a": ["fox", "owl"], "b": ["ink", "oil", "pen"]})
    assert sweep.layout() == (["a"], ["b"])
    sheet = sweep.grid(thumb_side=64)
    assert sheet.info["rows"] == ["a"] and len(sheet.info["cells"]) == 6
    one, _ = make_sweep({"a": ["fox", "owl", "cat"]})
    assert one.layout() == ([], ["a"]) and len(one.grid(thumb_side=64).info["cells"]) == 3
    with pytest.raises(ValidationError, match="name an axis"):
        sweep.grid(rows="colour")
    with pytest.raises(ValidationError):
        sweep.grid(rows="a", cols="a")
    flat = sweep.grid(columns=3, thumb_side=64)  # ResultSet.grid(columns=) as before
    assert "cells" not in flat.info and flat.width == 3 * 64 + 4 * 6


def test_skipped_and_failed_combinations_keep_their_place() -> None:
    axes = {"a": ["fox", "owl"], "b": ["ink", "oil"]}
    sweep, colour_of = make_sweep(axes, missing={1: "skip", 2: "fail"})
    assert len(sweep) == 2 and set(sweep.skipped) == {"a=fox, b=oil"}
    assert set(sweep.failures) == {"a=owl, b=ink"}
    sheet = sweep.grid(thumb_side=64)
    for where in [(0, 1), (1, 0)]:  # a note on the cell background, no image
        x0, y0, _x1, _y1 = sheet.info["cells"][where]
        assert not any(near(sheet.getpixel((x0 + 40, y0 + 30)), c, 20) for c in COLOURS)
    box = sheet.info["cells"][(1, 1)]
    assert near(sheet.getpixel((box[0] + 32, box[1] + 10)), colour_of[3])
    assert "skipped a=fox, b=oil" in sweep.summary() and "failed a=owl, b=ink" in sweep.summary()


def test_captions_add_height_and_the_bundle_is_a_small_jpeg() -> None:
    spec = GridSpec(["r"], ["c"], {(0, 0): [Tile(solid((9, 9, 9)))]})
    plain = draw_grid(spec, thumb_side=64)
    spec.cells[(0, 0)] = [Tile(solid((9, 9, 9)), ["sharpness 12.0", "rated 4/5"])]
    assert draw_grid(spec, thumb_side=64).height > plain.height
    sweep, _ = make_sweep({"a": ["fox", "owl"], "b": ["ink", "oil"]})
    bundle, _metadata = sweep._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/jpeg"} and len(bundle["image/jpeg"]) < 150_000
    assert bundle["text/plain"].startswith("Sweep: 4 of 4 combinations over a (2) × b (2)")
