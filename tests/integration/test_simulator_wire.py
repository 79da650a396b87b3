"""The provider's older documented wire shapes (``wire=``), over real sockets."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from seedream_jupyter import simulator as simulator_module

if TYPE_CHECKING:
    from conftest import StartSimulator

BODY = {"model": "doubao-seedream-4.0", "prompt": "a lighthouse at dusk", "resolution": "1K"}
GROUP = {
    **BODY,
    "sequential_image_generation": "auto",
    "sequential_image_generation_options": {"max_images": 3},
}
ULID_ID = re.compile(r"^task_[0-9A-HJKMNP-TV-Z]{26}$")
NEWEST_ID = re.compile(r"^task-wave\d{10}[0-9a-f]{10}$")


def wait_done(http: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        data: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
        if data["status"] in ("completed", "failed", "cancelled"):
            return data
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_legacy_submit_and_task_shapes(start_simulator: StartSimulator) -> None:
    sim = start_simulator(wire="legacy", queue_seconds=0.2)
    with httpx.Client(base_url=sim.url) as http:
        before = time.time()
        submitted = http.post("/v1/tasks", json={**BODY, "n": 2}).json()
        assert ULID_ID.match(submitted["task_id"]), submitted
        assert before - 1 <= submitted["created_at"] <= time.time() + 1  # seconds
        queued = http.get(f"/v1/tasks/{submitted['task_id']}").json()
        assert queued["status"] == "queued" and "start_time" not in queued and "urls" not in queued
        done = wait_done(http, submitted["task_id"])
        assert done["created_at"] <= done["start_time"] <= done["completed_at"] < 1e12
        assert done["result"]["videos"] == []
        images = done["result"]["images"]
        assert len(images) == 2 and all(isinstance(entry["url"], str) for entry in images)
        assert http.get(images[1]["url"]).status_code == 200
        assert images[0]["expires_at"] == pytest.approx(time.time() + 86400, abs=60)


def test_legacy_group_is_one_entry_holding_every_link(start_simulator: StartSimulator) -> None:
    sim = start_simulator(wire="legacy")
    with httpx.Client(base_url=sim.url) as http:
        done = wait_done(http, http.post("/v1/tasks", json=GROUP).json()["task_id"])
        [entry] = done["result"]["images"]
        assert isinstance(entry["url"], list) and len(entry["url"]) == 3
        assert [url.rsplit("/", 1)[1] for url in entry["url"]] == ["0.jpeg", "1.jpeg", "2.jpeg"]
        assert all(http.get(url).status_code == 200 for url in entry["url"])


def test_newest_group_is_one_entry_per_image(start_simulator: StartSimulator) -> None:
    sim = start_simulator()
    with httpx.Client(base_url=sim.url) as http:
        done = wait_done(http, http.post("/v1/tasks", json=GROUP).json()["task_id"])
    assert [len(entry["url"]) for entry in done["result"]["images"]] == [1, 1, 1]


@pytest.mark.parametrize(
    ("wire", "id_shape"), [("envelope", NEWEST_ID), ("legacy+envelope", ULID_ID)]
)
def test_envelope_wraps_the_submit_answer(
    start_simulator: StartSimulator, wire: str, id_shape: re.Pattern[str]
) -> None:
    sim = start_simulator(wire=wire)
    with httpx.Client(base_url=sim.url) as http:
        answer = http.post("/v1/tasks", json=BODY).json()
        assert set(answer) == {"code", "data"} and answer["code"] == "success"
        assert id_shape.match(answer["data"]) and sim.task_ids() == [answer["data"]]
        done = wait_done(http, answer["data"])  # polls are not wrapped
        assert done["task_id"] == answer["data"] and done["status"] == "completed"
        synced = http.post("/v1/tasks/sync", json=BODY).json()
        assert synced["status"] == "completed" and "code" not in synced


def test_legacy_cancel_and_failure(start_simulator: StartSimulator) -> None:
    sim = start_simulator(wire="legacy", queue_seconds=30)
    with httpx.Client(base_url=sim.url) as http:
        task_id = http.post("/v1/tasks", json=BODY).json()["task_id"]
        cancel = http.post(f"/v1/tasks/{task_id}/cancel").json()
        assert cancel["status"] == "cancelled" and cancel["refunded"] is True
        data = http.get(f"/v1/tasks/{task_id}").json()
        assert data["status"] == "cancelled" and "start_time" not in data
        assert data["completed_at"] < 1e12


def test_a_bad_wire_value_is_refused() -> None:
    with pytest.raises(ValueError, match="wire"):
        simulator_module.start(wire="oldest")
    with pytest.raises(ValueError, match="wire"):
        simulator_module.mock(wire="newest+legacy")
