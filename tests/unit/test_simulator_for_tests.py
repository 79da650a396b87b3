"""What the simulator offers tests beyond the API: images drawn small (``image_side``), a
simulator that passes for the real API (``simulator_header=False``), and the record of what
it answered and when (``RecordedRequest.reply`` / ``.answered``)."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import httpx
import pytest
from PIL import Image
from simtools import max_overlap, request_spans

from seedream_jupyter import catalog, simulator
from seedream_jupyter.simulator import MockSimulator

BODY = {"model": "doubao-seedream-4.0", "prompt": "a lighthouse", "aspect_ratio": "16:9"}


def finished(sim: MockSimulator, http: httpx.Client, **extra: Any) -> dict[str, Any]:
    task_id = http.post("/v1/tasks", json={**BODY, **extra}).json()["task_id"]
    deadline = time.monotonic() + 10
    while True:
        data: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
        if data["status"] == "completed":
            return data
        assert time.monotonic() < deadline
        time.sleep(0.002)


@pytest.mark.parametrize(
    ("side", "fmt", "expected"),
    [(64, "jpeg", (64, 36)), (300, "jpeg", (300, 169)), (5000, "jpeg", (2560, 1440))],
)
def test_image_side_draws_small_and_keeps_the_true_size_elsewhere(
    side: int, fmt: str, expected: tuple[int, int]
) -> None:
    with simulator.mock(speed=1000, jitter=0, image_side=side) as sim, sim.client() as http:
        data = finished(sim, http)
        url = data["result"]["images"][0]["url"][0]
        image = Image.open(io.BytesIO(http.get(url).content))
    assert image.size == expected and image.format == "JPEG"
    state = sim.task(data["task_id"])
    assert state is not None and state.size == (2560, 1440)  # what the provider would send


def test_small_images_of_a_group_still_differ_and_pngs_stay_pngs() -> None:
    with simulator.mock(speed=1000, jitter=0, image_side=32) as sim, sim.client() as http:
        data = finished(
            sim, http, model="doubao-seedream-5.0-lite", n=3, output_format="png", resolution="2K"
        )
        blobs = [http.get(e["url"][0]).content for e in data["result"]["images"]]
    images = [Image.open(io.BytesIO(b)) for b in blobs]
    assert [(i.format, i.size) for i in images] == [("PNG", (32, 18))] * 3
    assert len(set(blobs)) == 3


def test_image_side_must_be_positive() -> None:
    with pytest.raises(ValueError, match="image_side"):
        simulator.mock(image_side=0)
    with pytest.raises(ValueError, match="image_side"):
        simulator.start(image_side=-1)


def test_without_the_header_it_passes_for_the_real_api() -> None:
    with simulator.mock(simulator_header=False) as sim, sim.client() as http:
        answer = http.post("/v1/tasks", json=BODY)
    assert answer.status_code == 200 and catalog.SIMULATOR_HEADER not in answer.headers
    with simulator.mock() as sim, sim.client() as http:
        assert catalog.SIMULATOR_HEADER in http.post("/v1/tasks", json=BODY).headers


def test_the_record_keeps_what_was_answered_to_api_requests_not_images() -> None:
    with simulator.mock(speed=1000, jitter=0, image_side=16) as sim, sim.client() as http:
        data = finished(sim, http)
        http.get(data["result"]["images"][0]["url"][0])
        missing = http.get("/v1/tasks/task-wave-nope")
    submit, *polls, download, not_found = sim.requests
    assert submit.reply_json()["task_id"] == data["task_id"]
    assert polls[-1].reply_json() == data  # exactly what the client read
    assert download.scope == "download" and download.reply == b""
    assert not_found.reply_json() == missing.json() and not_found.status == 404
    for r in sim.requests:
        assert r.answered is not None and r.answered >= r.time


def test_a_slow_answer_is_answered_after_its_delay_and_spans_show_the_overlap() -> None:
    async def five_polls(sim: MockSimulator) -> None:
        async with sim.async_client() as http:
            task_id = (await http.post("/v1/tasks", json=BODY)).json()["task_id"]
            await asyncio.gather(*(http.get(f"/v1/tasks/{task_id}") for _ in range(5)))

    with simulator.mock(faults="slow@get~0.1") as sim:
        asyncio.run(five_polls(sim))
    spans = request_spans(sim, "get")
    assert len(spans) == 5 and all(end - start >= 0.1 for start, end in spans)
    assert max_overlap(spans) == 5  # the five waited side by side
    assert max_overlap(request_spans(sim, "submit")) == 1


def test_max_overlap_counts_spans_open_at_one_instant() -> None:
    assert max_overlap([]) == 0
    assert max_overlap([(0, 1), (1, 2), (2, 3)]) == 1  # touching is not overlapping
    assert max_overlap([(0, 3), (1, 2), (1.5, 4), (5, 6)]) == 3
