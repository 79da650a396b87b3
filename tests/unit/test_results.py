"""Result: lazy PIL images, indexing, save, grid, a small mimebundle, metadata; ResultSet."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from seedream_jupyter import images as images_module
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.results import Result, ResultSet
from seedream_jupyter.task import ImageRef, Task, TaskStatus


def completed(count: int, task_id: str = "task-wave1") -> Task:
    refs = tuple(ImageRef(f"https://cdn.test/{task_id}/{i}.jpeg", 1.0) for i in range(count))
    return Task(task_id, TaskStatus.COMPLETED, 100, model="doubao-seedream-4.5", images=refs)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of images.decode (what Result uses to turn bytes into PIL images)."""
    calls: list[int] = []
    real = images_module.decode

    def counting(source: Any) -> Image.Image:
        calls.append(len(source) if isinstance(source, bytes) else source.stat().st_size)
        return real(source)

    monkeypatch.setattr(images_module, "decode", counting)
    return calls


def make_result(
    image_bytes: Any, count: int = 2, size: tuple[int, int] = (64, 48), fmt: str = "jpeg", **kw: Any
) -> Result:
    req = kw.pop("request", None) or GenerationRequest(prompt="a red fox", model="4.5", n=count)
    datas = [image_bytes(*size, fmt, i) for i in range(count)]
    return Result(completed(count), req, image_bytes=datas, **kw)


def test_images_are_decoded_lazily_once(image_bytes: Any, decodes: list[int]) -> None:
    res = make_result(image_bytes, 3)
    assert len(res) == 3
    assert res.task_id == "task-wave1" and res.status == "completed"
    assert res.cost_usd > 0 and res.urls
    repr(res)
    assert decodes == []  # metadata, len and repr decode nothing
    imgs = res.images
    assert len(decodes) == 3
    assert all(isinstance(img, Image.Image) for img in imgs)
    assert res.images is imgs
    res[0], list(res)
    assert len(decodes) == 3


def test_indexing_len_iter(image_bytes: Any) -> None:
    res = make_result(image_bytes, 3)
    assert len(res) == 3
    assert res[0].size == (64, 48)
    assert res[-1] is res.images[2]
    assert res[0:2] == res.images[:2]
    assert list(iter(res)) == res.images
    # each image is its own (the fake images differ in colour), in order
    colours = [img.convert("RGB").getpixel((0, 0)) for img in res]
    assert len(set(colours)) == 3
    with pytest.raises(IndexError):
        res[3]


def test_metadata(image_bytes: Any) -> None:
    req = GenerationRequest(prompt="a red fox", model="4.0", n=2, seed=9, resolution="1K")
    res = make_result(image_bytes, 2, request=req, elapsed=1.5)
    assert res.model == "doubao-seedream-4.0"
    assert res.prompt == "a red fox" and res.seed == 9
    assert res.urls == ["https://cdn.test/task-wave1/0.jpeg", "https://cdn.test/task-wave1/1.jpeg"]
    assert res.request == req.to_payload()
    assert res.request["model"] == "doubao-seedream-4.0"
    assert res.cost_usd == pytest.approx(2 * 0.0238)
    assert res.elapsed == 1.5


def test_cost_counts_the_images_returned(image_bytes: Any) -> None:
    req = GenerationRequest(prompt="x", model="4.5", action="group", max_images=6)
    res = make_result(image_bytes, 4, request=req)  # a group may return fewer
    assert res.cost_usd == pytest.approx(4 * 0.02975)
    assert req.estimate_cost() == pytest.approx(6 * 0.02975)


def test_save_writes_the_original_bytes(image_bytes: Any, tmp_path: Path) -> None:
    res = make_result(image_bytes, 2)
    paths = res.save(tmp_path / "out" / "nested")
    assert [p.name for p in paths] == ["task-wave1-1.jpg", "task-wave1-2.jpg"]
    assert [p.read_bytes() for p in paths] == [image_bytes(64, 48, "jpeg", i) for i in range(2)]
    named = res.save(tmp_path, prefix="fox")
    assert [p.name for p in named] == ["fox-1.jpg", "fox-2.jpg"]


def test_save_png_keeps_png(image_bytes: Any, tmp_path: Path) -> None:
    req = GenerationRequest(prompt="x", model="5.0-lite", output_format="png")
    res = make_result(image_bytes, 1, fmt="png", request=req)
    (path,) = res.save(tmp_path)
    assert path.suffix == ".png"
    assert path.read_bytes() == image_bytes(64, 48, "png", 0)


def test_save_accepts_str_and_does_not_decode(
    image_bytes: Any, tmp_path: Path, decodes: list[int]
) -> None:
    make_result(image_bytes, 2).save(str(tmp_path))
    assert decodes == []


def test_result_from_files_on_disk(image_bytes: Any, tmp_path: Path, decodes: list[int]) -> None:
    files = []
    for i in range(2):
        path = tmp_path / "store" / f"{i}.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(image_bytes(40, 30, "jpeg", i))
        files.append(path)
    res = Result(completed(2), GenerationRequest(prompt="x", n=2), paths=files, from_cache=True)
    assert len(res) == 2 and decodes == []
    assert res[1].size == (40, 30)
    saved = res.save(tmp_path / "copy")
    assert [p.read_bytes() for p in saved] == [p.read_bytes() for p in files]
    assert "from the history on disk: nothing billed" in res.summary()


def test_len_falls_back_to_the_task(image_bytes: Any) -> None:
    assert len(Result(completed(3), GenerationRequest(prompt="x", n=3))) == 3


def test_grid(image_bytes: Any) -> None:
    res = make_result(image_bytes, 3, size=(200, 100))
    sheet = res.grid(thumb_side=64)
    assert isinstance(sheet, Image.Image)
    assert sheet.size == (3 * 64 + 4 * 6, 32 + 2 * 6)
    assert res.grid(columns=1, thumb_side=64).size == (64 + 2 * 6, 3 * 32 + 4 * 6)


def test_thumbnails(image_bytes: Any) -> None:
    thumbs = make_result(image_bytes, 2, size=(800, 400)).thumbnails(max_side=128)
    assert [Image.open(io.BytesIO(t)).size for t in thumbs] == [(128, 64)] * 2


def test_mimebundle_is_a_small_jpeg_for_two_2k_images(image_bytes: Any) -> None:
    res = make_result(image_bytes, 2, size=(2048, 2048))
    bundle, metadata = res._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "image/jpeg"}
    assert metadata["image/jpeg"]["alt"].startswith("Result")  # alt text for the contact sheet
    assert "image/png" not in bundle
    raw = base64.b64decode(bundle["image/jpeg"])
    assert raw.startswith(b"\xff\xd8\xff")
    assert len(bundle["image/jpeg"]) < 100_000
    assert max(Image.open(io.BytesIO(raw)).size) <= 2 * 384 + 3 * 6
    text = bundle["text/plain"]
    assert "task-wave1" in text and "doubao-seedream-4.5" in text and "a red fox" in text


def test_mimebundle_without_images(image_bytes: Any) -> None:
    res = Result(completed(0), GenerationRequest(prompt="x"), image_bytes=[])
    assert set(res._repr_mimebundle_()[0]) == {"text/plain"}


def test_simulated_results_say_so(image_bytes: Any) -> None:
    res = make_result(image_bytes, 1, simulated=True)
    assert "SIMULATED" in repr(res) and "SIMULATED" in res.summary()
    assert "SIMULATED" not in repr(make_result(image_bytes, 1))


# -- ResultSet ------------------------------------------------------------------------------


def test_result_set(image_bytes: Any, tmp_path: Path) -> None:
    a = make_result(image_bytes, 2)
    b = Result(
        completed(1, "task-wave2"),
        GenerationRequest(prompt="an owl", model="4.0"),
        image_bytes=[image_bytes(64, 48, "jpeg", 3)],
    )
    rs = ResultSet([a, b], labels=["fox", "owl"])
    assert len(rs) == 2 and rs[1] is b
    assert len(rs.images) == 3
    assert rs.cost_usd == pytest.approx(2 * 0.02975 + 0.0238)
    assert rs.grid(thumb_side=64).size == (2 * 64 + 3 * 6, 48 + 18 + 2 * 6)
    assert len(rs.save(tmp_path)) == 3
    bundle, _ = rs._repr_mimebundle_()
    assert (
        "image/jpeg" in bundle and "fox" in bundle["text/plain"] and "owl" in bundle["text/plain"]
    )
    assert rs.failures == {}


def test_result_set_default_labels_are_prompts(image_bytes: Any) -> None:
    rs = ResultSet([make_result(image_bytes, 1)])
    assert rs.labels == ["a red fox"]
