"""The public helpers against the simulator over real sockets."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import time
import warnings

import pytest
from PIL import Image

import seedream_jupyter as sj
from seedream_jupyter import api, catalog
from seedream_jupyter.simulator import SimulatorHandle

KEY = "sk-integration-sentinel-0123456789"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("WAVE_API_KEY", "WAVE_API_KEY_FILE", "SEEDREAM_BASE_URL", "SEEDREAM_SIMULATOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path))


@pytest.fixture
def client(simulator: SimulatorHandle) -> sj.Client:
    return sj.Client(api_key=KEY, base_url=simulator.url)


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("model", "resolution", "ratio"),
    [
        ("doubao-seedream-4.5", "2K", "16:9"),
        ("doubao-seedream-4.0", "1K", "9:21"),
        ("doubao-seedream-5.0-lite", "3K", "3:2"),
    ],
)
def test_generate_returns_pil_images_of_the_catalog_size(
    client: sj.Client, model: str, resolution: str, ratio: str
) -> None:
    res = sj.generate(
        "a lighthouse at dusk",
        model=model,
        resolution=resolution,
        aspect_ratio=ratio,
        client=client,
    )
    assert isinstance(res.images[0], Image.Image)
    assert res.images[0].size == catalog.MODELS[model].pixel_size(resolution, ratio)
    assert res.status == "completed" and res.model == model
    assert res.request["prompt"] == "a lighthouse at dusk"
    assert res.cost_usd == pytest.approx(catalog.MODELS[model].price_per_image_usd)
    assert res.simulated  # the server announced itself
    assert all(path.exists() for path in res.paths)


def test_png_output_on_5_0_lite(client: sj.Client) -> None:
    res = sj.generate("x", model="5.0-lite", output_format="png", client=client)
    assert res.images[0].format == "PNG"


def test_each_action_reaches_the_server_with_its_images(
    client: sj.Client, simulator: SimulatorHandle, tmp_path: object
) -> None:
    red, blue = png_bytes((255, 0, 0)), png_bytes((0, 0, 255))
    group = sj.group("three moments of one night", max_images=3, client=client)
    assert len(group) == 3 and len(group.images) == 3
    edit = sj.edit(red, "make it night", model="4.0", client=client)
    i2i = sj.image2image(Image.open(io.BytesIO(blue)), "as an oil painting", client=client)
    ref = sj.reference([red, blue], "fuse them", client=client)
    for res in (edit, i2i, ref):
        assert len(res.images) == 1
    bodies = [r.json() for r in simulator.requests if r.scope == "submit"]
    actions = [b["action"] for b in bodies if isinstance(b, dict)]
    assert actions == ["group", "edit", "image2image", "reference"]
    assert bodies[0]["sequential_image_generation"] == "auto"
    assert [len(b.get("image_urls", [])) for b in bodies] == [0, 1, 1, 2]


def test_validation_errors_send_nothing(client: sj.Client, simulator: SimulatorHandle) -> None:
    with pytest.raises(sj.ValidationError, match="aspect_ratio"):
        sj.generate("x", model="5.0-lite", aspect_ratio="9:21", client=client)
    with pytest.raises(sj.ValidationError, match="edit"):
        sj.edit(png_bytes((1, 2, 3)), "x", model="5.0-lite", client=client)
    assert simulator.stats.submit_requests == 0


def test_failed_task_raises_with_the_server_message(start_simulator: object) -> None:
    sim = start_simulator(faults="fail")  # type: ignore[operator]
    client = sj.Client(api_key=KEY, base_url=sim.url)
    with pytest.raises(sj.TaskFailedError) as info:
        sj.generate("x", client=client)
    assert info.value.code == "task_failed" and info.value.server_message
    assert info.value.task_id.startswith("task")


@pytest.mark.simulator(queue_seconds=30)
def test_cancel_a_queued_job_cancels_on_the_server(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    job = api.start(api.build_request("slow queue"), client=client)
    deadline = time.monotonic() + 10
    while job.task_id is None and time.monotonic() < deadline:
        time.sleep(0.02)
    message = job.cancel()
    assert "cancelled" in message and job.task_id in message
    with pytest.raises(sj.TaskCancelledError):
        job.wait(10)
    assert job.state == "cancelled"
    assert simulator.stats.cancelled == 1
    record = sj.Session.current().store().get(job.task_id)
    assert record is not None and record.status == "cancelled"


def test_cancel_a_processing_job_detaches(start_simulator: object) -> None:
    sim = start_simulator(speed=0.5)  # type: ignore[operator]
    client = sj.Client(api_key=KEY, base_url=sim.url)
    job = api.start(api.build_request("slow", resolution="4K"), client=client)
    seen: list[str] = []
    job.subscribe(lambda j: seen.append(j.state))
    deadline = time.monotonic() + 20
    while job.state != "processing" and time.monotonic() < deadline:
        time.sleep(0.05)
    message = job.cancel()
    assert "still processing" in message and "sj.load" in message
    with pytest.raises(sj.TaskDetachedError):
        job.wait(10)
    assert job.state == "detached" and "processing" in seen
    assert sim.stats.cancelled == 0
    # the task id is not lost: history has it pending, to be resumed later
    record = sj.Session.current().store().get(job.task_id)  # type: ignore[arg-type]
    assert record is not None and record.status == "processing"


def test_batch_bounds_concurrency_and_keeps_order(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    prompts = [f"item {i}" for i in range(6)]
    results = sj.batch(prompts, concurrency=2, client=client)
    assert [r.prompt for r in results] == prompts
    assert simulator.stats.submits == 6 and results.failures == {}


def test_sweep_is_a_labelled_cartesian_product(client: sj.Client) -> None:
    s = sj.sweep(
        "a {animal}, {style}",
        animal=["fox", "owl"],
        style=["ink", "oil"],
        seed=[1, 2],
        client=client,
    )
    assert len(s) == 8
    assert s.labels[0] == "animal=fox, style=ink, seed=1"
    assert s[0].prompt == "a fox, ink" and s[0].seed == 1
    sheet = s.grid(columns=4)
    assert sheet.width > sheet.height


def test_fixed_seed_repeats_the_same_image_from_cache(
    client: sj.Client, simulator: SimulatorHandle
) -> None:
    first = sj.generate("a red fox", seed=42, client=client)
    again = sj.generate("a red fox", seed=42, client=client)
    assert again.from_cache and simulator.stats.submits == 1
    fresh = sj.generate("a red fox", seed=42, client=client, cache=False)
    assert simulator.stats.submits == 2
    assert first.images[0].tobytes() == fresh.images[0].tobytes()


def test_agenerate_works_inside_a_running_loop(client: sj.Client) -> None:
    async def main() -> tuple[sj.Result, sj.Result]:
        a = await sj.agenerate("async one", client=client)
        b = sj.generate("sync inside a loop", client=client)  # the private loop thread
        return a, b

    a, b = asyncio.run(main())
    assert len(a.images) == len(b.images) == 1


def test_no_key_uses_the_embedded_simulator_and_says_so() -> None:
    code = (
        "import warnings, seedream_jupyter as sj\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    r = sj.generate('a lighthouse at dusk', aspect_ratio='16:9', resolution='2K',\n"
        "                    seed=3)\n"
        "print(r.images[0].size, r.simulated, any('SIMULATED' in str(x.message) for x in w))\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "WAVE_API_KEY"}
    env["SEEDREAM_SIM_SPEED"] = "50"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(2560, 1440) True True"


def test_simulated_results_warn_at_the_callers_line(client: sj.Client) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sj.edit(png_bytes((1, 2, 3)), "x", client=client)
    (warning,) = [w for w in caught if issubclass(w.category, sj.SimulatorWarning)]
    assert warning.filename == __file__


def test_the_key_never_reaches_the_store_or_files(client: sj.Client, tmp_path: object) -> None:
    from pathlib import Path

    sj.generate("secret check", seed=9, client=client)
    home = Path(str(tmp_path))
    for path in home.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
