"""Figures 4, 6 and 7: notebook bytes per image, memory while showing, thumbnail speed."""

from __future__ import annotations

import base64
import io
import tempfile
import time
from pathlib import Path
from typing import Any

from common import Figure, Settings, child, fmt, median, p95, ratio, times
from PIL import Image

import seedream_jupyter as sj
from seedream_jupyter import images, simulator
from seedream_jupyter.session import session

THUMB_SIDE = 512


class Made:
    """Results generated once on a fast simulator into a temporary history, for all three."""

    def __init__(self) -> None:
        self.home = tempfile.TemporaryDirectory(prefix="sj-bench-display-")
        session().configure(home=self.home.name)
        session().set_frontend(None)
        with simulator.start(speed=200, jitter=0) as sim:
            client = sj.Client(api_key="bench", base_url=sim.url)
            try:
                common = {"client": client, "seed": 5, "cache": False}
                self.one = sj.generate("notebook bytes, one 2K image", resolution="2K", **common)
                self.four = sj.group(
                    "notebook bytes, four 2K images", max_images=4, resolution="2K", **common
                )
                self.big = sj.group(
                    "memory, fifteen 4K images",
                    max_images=15,
                    resolution="4K",
                    model="4.5",
                    **common,
                )
            finally:
                client.close()
        session().reset("home")

    def close(self) -> None:
        session().detect_frontend()
        self.home.cleanup()


def notebook_figure(made: Made) -> Figure:
    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    fig = Figure(
        "4",
        "Saved .ipynb bytes per displayed 2K image",
        ["what", "ours: display(result)", "display(pil_image)", "ratio"],
    )
    formatter = InteractiveShell.instance().display_formatter  # a kernel's, as display() uses

    def size(outputs: list[Any]) -> int:
        notebook = nbformat.v4.new_notebook()
        notebook.cells.append(nbformat.v4.new_code_cell("x", outputs=outputs))
        return len(nbformat.writes(notebook).encode())

    empty = size([])
    for label, result in (("one image", made.one), ("group of 4", made.four)):
        data, metadata = result._repr_mimebundle_()
        ours = (
            size([nbformat.v4.new_output("display_data", data=data, metadata=metadata)]) - empty
        ) / len(result)
        plain = []
        for img in result.images:  # what display(img) saves: what IPython formats, as the
            d, m = formatter.format(img)  # kernel sends it (binary data base64-encoded)
            d = {
                k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in d.items()
            }
            plain.append(nbformat.v4.new_output("display_data", data=d, metadata=m))
        base = (size(plain) - empty) / len(result)
        fig.rows.append(
            [label, f"{ours / 1000:.1f} kB", f"{base / 1000:.1f} kB", times(ratio(ours, base))]
        )
        fig.data[label] = {"ours_bytes": ours, "pil_bytes": base}
    fig.notes.append(
        "Ours is one small JPEG contact sheet (image/jpeg) with a text/plain summary. "
        "display(pil_image) saves what IPython formats for a PIL image: a full-size PNG and "
        "a full-size JPEG. The simulator's pictures are flat drawings, which compress far "
        "better than photographs: with real images the baseline is several MB per image."
    )
    return fig


RSS_CODE = """
import json, sys
import seedream_jupyter as sj
from seedream_jupyter import images
from seedream_jupyter.display import gallery, taskview
from seedream_jupyter.results import Result, ResultSet
from PIL import Image
result = sj.load({task_id!r})
singles = ResultSet([Result(result.task, result.params, paths=[p]) for p in result.paths])
def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) * 1024
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak (VmHWM) starts again from here
path = {path!r}
if path == "TaskView (thumbnails + static sheet)":
    thumbs, _ = taskview.make_thumbnails(result, 512)
    gallery.sheet_jpeg(thumbs)
elif path == "Result display (_repr_mimebundle_)":
    result._repr_mimebundle_()
elif path == "Result.grid()":
    result.grid()
elif path == "ResultSet.grid() of 15 results":
    singles.grid()
elif path == "Result.thumbnails()":
    result.thumbnails()
elif path == "baseline: decode all 15 (result.images)":
    result.images
print(json.dumps([before, status("VmHWM")]))
"""
RSS_PATHS = (
    "TaskView (thumbnails + static sheet)",
    "Result display (_repr_mimebundle_)",
    "Result.grid()",
    "ResultSet.grid() of 15 results",
    "Result.thumbnails()",
    "baseline: decode all 15 (result.images)",
)


def memory_figure(made: Made, settings: Settings) -> Figure:
    fig = Figure(
        "6",
        f"Peak RSS above the process before it, showing a {len(made.big)} × 4K group (MB)",
        ["path", "median", "max"],
    )
    repeats = settings.repeat(3, 1)
    env = {"SEEDREAM_HOME": made.home.name}
    grown: dict[str, list[float]] = {path: [] for path in RSS_PATHS}
    for i in range(repeats):
        for path in RSS_PATHS if i % 2 == 0 else reversed(RSS_PATHS):
            before, peak = child(RSS_CODE.format(task_id=made.big.task_id, path=path), env=env)
            grown[path].append((peak - before) / 1e6)
    for path, values in grown.items():
        fig.rows.append([path, fmt(median(values), "", 1), fmt(max(values), "", 1)])
        if not path.startswith("baseline"):
            fig.target(f"{path} ≤ 150 MB", max(values) <= 150)
    fig.notes.append(
        f"Each path in a fresh process that loads the Result from the history on disk "
        f"(sj.load), {repeats} time(s): VmRSS before, VmHWM after (reset by clear_refs just "
        "before the path, so the process's start-up does not count)."
    )
    fig.data.update(grown)
    return fig


def _timed(fn: Any, repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - started)
    return seconds


def _full_decode_resize(source: Any) -> Image.Image:
    img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    img.load()
    scale = THUMB_SIDE / max(img.size)
    return img.resize(
        (round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS
    )


def thumbnail_figure(made: Made, settings: Settings) -> Figure:
    fig = Figure(
        "7",
        f"One {THUMB_SIDE} px thumbnail of a 4K image, per path (ms)",
        ["path", "median", "p95", "full decode + resize", "ratio"],
    )
    repeats = settings.repeat(12, 1)
    path = Path(made.big.paths[0])
    jpeg = path.read_bytes()
    decoded = images.decode(jpeg)
    with tempfile.TemporaryDirectory() as tmp:
        png = Image.open(io.BytesIO(jpeg)).resize((3072, 3072))  # 5.0-lite's 3K, as PNG
        png_path = Path(tmp) / "3k.png"
        png.save(png_path, format="PNG")
        png_bytes = png_path.read_bytes()
        rows = [
            ("JPEG bytes (download, TaskView)", lambda: images.thumbnail(jpeg, THUMB_SIDE), jpeg),
            ("JPEG file (history on disk)", lambda: images.thumbnail(path, THUMB_SIDE), jpeg),
            ("decoded image in memory", lambda: images.thumbnail(decoded, THUMB_SIDE), jpeg),
            (
                "PNG bytes, 3K (5.0-lite)",
                lambda: images.thumbnail(png_bytes, THUMB_SIDE),
                png_bytes,
            ),
            ("PNG file, 3K (5.0-lite)", lambda: images.thumbnail(png_path, THUMB_SIDE), png_bytes),
        ]
        for label, ours, source in rows:
            ours_s, base_s = [], []
            for i in range(repeats):  # interleaved
                pair = [(ours, ours_s), (lambda s=source: _full_decode_resize(s), base_s)]
                for fn, out in pair if i % 2 == 0 else reversed(pair):
                    out += _timed(fn, 1)
            r = ratio(median(ours_s), median(base_s))
            fig.rows.append(
                [
                    label,
                    fmt(median(ours_s) * 1000, "", 1),
                    fmt(p95(ours_s) * 1000, "", 1),
                    fmt(median(base_s) * 1000, "", 1),
                    times(r),
                ]
            )
            fig.target(f"{label} ≤ 0.35× full decode + resize", r <= 0.35)
            fig.data[label] = {"ours": ours_s, "full": base_s}
    fig.notes.append(
        "JPEG is draft-decoded at 1/2-1/8 scale; an image in memory is reduced by an integer "
        "factor, never copied at full size. PNG has no reduced decode: a PNG thumbnail costs "
        "the full decode (only 5.0-lite returns PNG, on request)."
    )
    return fig


def display_figures(settings: Settings) -> list[Figure]:
    made = Made()
    try:
        return [
            notebook_figure(made),
            memory_figure(made, settings),
            thumbnail_figure(made, settings),
        ]
    finally:
        made.close()
