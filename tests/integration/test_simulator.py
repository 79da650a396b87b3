"""The simulator over real sockets with plain httpx: endpoints, lifecycle, images, callbacks."""

from __future__ import annotations

import base64
import io
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from PIL import Image, ImageStat

from seedream_jupyter import catalog
from seedream_jupyter.simulator import SimulatorHandle

if TYPE_CHECKING:
    from conftest import CallbackReceiver, StartSimulator

TERMINAL = ("completed", "failed", "cancelled")
TASK_ID = re.compile(r"^task-wave\d{10}[0-9a-f]{10}$")
M40, M45, LITE = "doubao-seedream-4.0", "doubao-seedream-4.5", "doubao-seedream-5.0-lite"


@pytest.fixture
def http(simulator: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.url, timeout=30) as client:
        yield client


def body(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"model": "doubao-seedream-4.5", "prompt": "a red fox in snow"}
    payload.update(overrides)
    return payload


def submit(http: httpx.Client, **overrides: Any) -> dict[str, Any]:
    response = http.post("/v1/tasks", json=body(**overrides))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def wait_done(http: httpx.Client, task_id: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
        if data["status"] in TERMINAL:
            return data
        assert time.monotonic() < deadline, f"task {task_id} stuck: {data}"
        time.sleep(0.01)


def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.01)


def run(http: httpx.Client, **overrides: Any) -> dict[str, Any]:
    return wait_done(http, submit(http, **overrides)["task_id"])


def image_urls(task: dict[str, Any]) -> list[str]:
    return [url for entry in task["result"]["images"] for url in entry["url"]]


def download(http: httpx.Client, task: dict[str, Any], index: int = 0) -> bytes:
    response = http.get(image_urls(task)[index])
    assert response.status_code == 200, response.text
    return response.content


def data_uri(image: Image.Image, fmt: str = "PNG") -> str:
    out = io.BytesIO()
    image.save(out, fmt)
    mime = "image/png" if fmt == "PNG" else "image/jpeg"
    return f"data:{mime};base64," + base64.b64encode(out.getvalue()).decode()


PIXEL = data_uri(Image.new("RGB", (8, 8), (10, 20, 30)))


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "code", "type"}
    if code is not None:
        assert error["code"] == code
    message: str = error["message"]
    return message


# -- endpoints and lifecycle ---------------------------------------------------------------
def test_submit_answers_the_newest_wire_form(http: httpx.Client) -> None:
    before = time.time()
    data = submit(http, aspect_ratio="16:9")
    assert set(data) == {"task_id", "model", "action", "status", "created_at", "progress"}
    assert TASK_ID.match(data["task_id"])
    assert data["model"] == "doubao-seedream-4.5"
    assert data["action"] == "generate"
    assert data["status"] == "queued"
    assert data["progress"] == 0
    assert before * 1000 - 5 <= data["created_at"] <= time.time() * 1000 + 5  # milliseconds


@pytest.mark.simulator(speed=5)
def test_lifecycle_goes_queued_processing_completed_with_rising_progress(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    task_id = submit(http)["task_id"]
    seen: list[tuple[str, int]] = []
    while not seen or seen[-1][0] not in TERMINAL:
        data = http.get(f"/v1/tasks/{task_id}").json()
        seen.append((data["status"], data["progress"]))
        time.sleep(0.02)
    statuses = [s for s, _ in seen]
    assert statuses[0] == "queued" and statuses[-1] == "completed"
    order = {"queued": 0, "processing": 1, "completed": 2}
    assert [order[s] for s in statuses] == sorted(order[s] for s in statuses)
    progress = [p for s, p in seen if s == "processing"]
    assert len(set(progress)) >= 3, seen
    assert progress == sorted(progress) and progress[0] > 0 and progress[-1] < 100
    assert seen[-1] == ("completed", 100)
    assert simulator.stats.polls == len(seen)


def test_completed_task_carries_urls_result_and_timestamps(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    data = run(http)
    task_id = data["task_id"]
    assert data["urls"] == {
        "get": f"{simulator.url}/v1/tasks/{task_id}",
        "cancel": f"{simulator.url}/v1/tasks/{task_id}/cancel",
    }
    assert data["progress"] == 100
    assert data["completed_at"] >= data["created_at"] > 1e12  # both in milliseconds
    [entry] = data["result"]["images"]
    assert isinstance(entry["url"], list) and len(entry["url"]) == 1
    assert entry["url"][0].startswith(f"{simulator.url}/files/{task_id}/")
    assert abs(entry["expires_at"] - (time.time() + 86400)) < 60  # seconds
    state = simulator.task(task_id)
    assert state is not None and state.status == "completed" and state.json["task_id"] == task_id


def test_unknown_fields_are_ignored(http: httpx.Client, simulator: SimulatorHandle) -> None:
    data = run(http, brand_new_field={"x": 1}, temperature=0.3)
    assert data["status"] == "completed" and "brand_new_field" not in str(data)
    state = simulator.task(data["task_id"])
    assert state is not None
    assert state.request.ignored == {"brand_new_field": {"x": 1}, "temperature": 0.3}


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"model": M40, "prompt": "x", "resolution": "3K"}, "resolution"),
        ({"model": LITE, "prompt": "x", "action": "edit"}, "action"),
        ({"model": M45, "prompt": "x", "aspect_ratio": "5:4"}, "aspect_ratio"),
        ({"model": M45, "prompt": "x", "output_format": "png"}, "output_format"),
        ({"model": M45, "prompt": "x", "output_format": "jpeg"}, "output_format"),
        ({"model": LITE, "prompt": "x", "output_format": "gif"}, "output_format"),
        ({"model": M45, "prompt": "  "}, "prompt"),
        ({"model": M45, "prompt": 7}, "prompt"),
        ({"model": M45}, "prompt"),
        ({"prompt": "x"}, "model"),
        ({"model": 45, "prompt": "x"}, "model"),
        ({"model": M45, "prompt": "x", "n": 16}, "n"),
        ({"model": M45, "prompt": "x", "n": 0}, "n"),
        ({"model": M45, "prompt": "x", "n": True}, "n"),
        ({"model": M45, "prompt": "x", "seed": "7"}, "seed"),
        ({"model": M45, "prompt": "x", "seed": -2}, "seed"),
        ({"model": M45, "prompt": "x", "action": "paint"}, "action"),
        ({"model": M45, "prompt": "x", "watermark": "yes"}, "watermark"),
        ({"model": M45, "prompt": "x", "action": "edit"}, "image_urls"),
        ({"model": M40, "prompt": "x", "action": "reference", "image_urls": [PIXEL]}, "image_urls"),
        ({"model": M45, "prompt": "x", "image_urls": ["ftp://x"]}, "image_urls[0]"),
        ({"model": M45, "prompt": "x", "image_urls": "http://x"}, "image_urls"),
        ({"model": M45, "prompt": "x", "image_urls": [PIXEL, "https://"]}, "image_urls[1]"),
        ({"model": M45, "prompt": "x", "callback_url": "ftp://hook"}, "callback_url"),
        (
            {"model": M45, "prompt": "x", "sequential_image_generation": "always"},
            "sequential_image_generation",
        ),
        (
            {"model": M45, "prompt": "x", "sequential_image_generation_options": {"max_images": 3}},
            "sequential_image_generation_options",
        ),
        (
            {
                "model": M45,
                "prompt": "x",
                "sequential_image_generation": "auto",
                "sequential_image_generation_options": {"max_images": 16},
            },
            "sequential_image_generation_options.max_images",
        ),
        (
            {
                "model": M40,
                "prompt": "x",
                "sequential_image_generation": "auto",
                "sequential_image_generation_options": {"max_images": 14},
                "image_urls": [PIXEL, PIXEL],
            },
            "image_urls",
        ),
    ],
)
def test_invalid_parameters_are_400_naming_the_field(
    http: httpx.Client, simulator: SimulatorHandle, payload: dict[str, Any], needle: str
) -> None:
    message = assert_error(http.post("/v1/tasks", json=payload), 400, "invalid_parameter")
    assert message.startswith(f"{needle}: "), message
    assert http.post("/v1/tasks", json=payload).json()["error"]["type"] == "invalid_request_error"
    assert simulator.stats.submits == 0 and simulator.stats.invalid == 2


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'"text"'])
def test_bad_json_is_400(http: httpx.Client, raw: bytes) -> None:
    response = http.post("/v1/tasks", content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400)


def test_unknown_task_and_paths_are_404_and_wrong_methods_405(http: httpx.Client) -> None:
    assert_error(http.get("/v1/tasks/task-wave0000"), 404, "task_not_found")
    assert_error(http.post("/v1/tasks/task-wave0000/cancel"), 404, "task_not_found")
    assert_error(http.get("/v2/other"), 404)
    assert_error(http.get("/files/task-wave0000/0.jpeg"), 404)
    assert_error(http.get("/v1/tasks"), 405)
    assert_error(http.delete("/v1/tasks/task-wave0000"), 405)
    info = http.get("/").json()
    assert info["simulator"] is True


@pytest.mark.simulator(api_key="sk-sim-secret-123")
def test_auth_required_when_a_key_is_configured(
    simulator: SimulatorHandle, http: httpx.Client
) -> None:
    assert_error(http.post("/v1/tasks", json=body()), 401, "invalid_api_key")
    wrong = {"Authorization": "Bearer sk-wrong-key-456"}
    response = http.post("/v1/tasks", json=body(), headers=wrong)
    assert_error(response, 401)
    assert "sk-wrong-key-456" not in response.text
    assert_error(http.get("/v1/tasks/x", headers={"Authorization": "Basic abc"}), 401)
    assert simulator.stats.submits == 0 and simulator.stats.unauthorized == 3
    good = {"Authorization": "Bearer sk-sim-secret-123"}
    task_id = http.post("/v1/tasks", json=body(), headers=good).json()["task_id"]
    http.headers.update(good)
    data = wait_done(http, task_id)
    assert "sk-sim-secret-123" not in str(data)
    del http.headers["Authorization"]
    assert http.get(image_urls(data)[0]).status_code == 200  # signed-style links need no key
    recorded = [r for r in simulator.requests if r.scope == "submit"]
    assert recorded[-1].headers["authorization"] == "Bearer sk-sim-secret-123"


# -- cancel --------------------------------------------------------------------------------
@pytest.mark.simulator(queue_seconds=30)
def test_cancel_a_queued_task_refunds_it(http: httpx.Client, simulator: SimulatorHandle) -> None:
    task_id = submit(http, n=2)["task_id"]
    response = http.post(f"/v1/tasks/{task_id}/cancel")
    assert response.status_code == 200
    data = response.json()
    expected_quota = round(2 * catalog.MODELS["doubao-seedream-4.5"].price_per_image_usd * 500_000)
    assert data == {
        "task_id": task_id,
        "status": "cancelled",
        "refunded": True,
        "refunded_quota": expected_quota,
    }
    state = http.get(f"/v1/tasks/{task_id}").json()
    assert state["status"] == "cancelled" and state["progress"] == 0 and "completed_at" in state
    message = assert_error(http.post(f"/v1/tasks/{task_id}/cancel"), 400, "task_not_cancellable")
    assert "only queued" in message
    assert simulator.stats.cancels == 2 and simulator.stats.cancelled == 1


def test_cancel_after_the_queue_is_refused(http: httpx.Client) -> None:
    data = run(http)
    response = http.post(f"/v1/tasks/{data['task_id']}/cancel")
    message = assert_error(response, 400, "task_not_cancellable")
    assert "only queued tasks can be cancelled" in message and "completed" in message


# -- sync ----------------------------------------------------------------------------------
def test_sync_returns_the_finished_task(http: httpx.Client, simulator: SimulatorHandle) -> None:
    response = http.post("/v1/tasks/sync", json=body(model=M40, resolution="1K"))
    data = response.json()
    assert data["status"] == "completed" and len(data["result"]["images"]) == 1
    assert simulator.stats.submits == 1 and simulator.stats.sync_requests == 1


@pytest.mark.simulator(queue_seconds=0.3)
def test_sync_that_runs_out_of_time_returns_a_relative_poll_url(http: httpx.Client) -> None:
    started = time.monotonic()
    data = http.post("/v1/tasks/sync?timeout=0.05", json=body()).json()
    assert time.monotonic() - started < 1.0
    assert set(data) == {"task_id", "status", "progress", "poll_url"}
    assert data["status"] in ("queued", "processing")
    assert data["poll_url"] == f"/v1/tasks/{data['task_id']}"
    assert wait_done(http, data["task_id"])["status"] == "completed"
    assert http.get(data["poll_url"]).json()["status"] == "completed"


def test_sync_rejects_invalid_parameters(http: httpx.Client) -> None:
    assert_error(http.post("/v1/tasks/sync", json=body(resolution="8K")), 400)


# -- expiry and callbacks ------------------------------------------------------------------
@pytest.mark.simulator(url_ttl=1.0)
def test_result_urls_expire_after_the_ttl(http: httpx.Client) -> None:
    data = run(http, model=M40, resolution="1K")
    expires_at = data["result"]["images"][0]["expires_at"]
    assert expires_at <= time.time() + 2
    assert http.get(image_urls(data)[0]).status_code == 200
    time.sleep(1.05)
    message = assert_error(http.get(image_urls(data)[0]), 410, "url_expired")
    assert "expired" in message


@pytest.mark.simulator(queue_seconds=0.2)
def test_callbacks_arrive_on_every_terminal_state(
    http: httpx.Client, simulator: SimulatorHandle, callback_receiver: CallbackReceiver
) -> None:
    done = submit(http, callback_url=callback_receiver.url)["task_id"]
    cancelled = submit(http, callback_url=callback_receiver.url)["task_id"]
    assert http.post(f"/v1/tasks/{cancelled}/cancel").status_code == 200
    simulator.set_faults("fail")
    failed = submit(http, callback_url=callback_receiver.url)["task_id"]
    bodies = callback_receiver.wait_for(3)
    by_id = {b["task_id"]: b for b in bodies}
    assert by_id[done]["status"] == "completed" and by_id[done]["result"]["images"]
    assert by_id[cancelled]["status"] == "cancelled"
    assert by_id[failed]["status"] == "failed"
    assert by_id[failed]["error"]["code"] == "task_failed"
    eventually(lambda: simulator.stats.callbacks_sent == 3)


def test_failed_callbacks_are_counted(http: httpx.Client, simulator: SimulatorHandle) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    run(http, callback_url=f"http://127.0.0.1:{port}/nobody-listens")
    eventually(lambda: simulator.stats.callbacks_failed == 1)


# -- images --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "resolution", "ratio", "fmt"),
    [
        ("doubao-seedream-4.0", "1K", "21:9", "jpeg"),
        ("doubao-seedream-4.5", "2K", "9:16", "jpeg"),
        ("doubao-seedream-4.5", "4K", "16:9", "jpeg"),
        ("doubao-seedream-5.0-lite", "2K", "4:3", "png"),
        ("doubao-seedream-5.0-lite", "3K", "2:3", "png"),
        ("doubao-seedream-5.0-lite", "3K", "1:1", "jpeg"),
    ],
)
def test_images_have_the_true_pixel_size_and_format(
    http: httpx.Client, model: str, resolution: str, ratio: str, fmt: str
) -> None:
    extra = {"output_format": fmt} if model.endswith("lite") else {}
    data = run(http, model=model, resolution=resolution, aspect_ratio=ratio, **extra)
    url = image_urls(data)[0]
    assert url.endswith(f".{fmt}")
    response = http.get(url)
    assert response.headers["content-type"] == f"image/{fmt}"
    assert int(response.headers["content-length"]) == len(response.content)
    image = Image.open(io.BytesIO(response.content))
    assert image.format == fmt.upper()
    assert image.size == catalog.MODELS[model].pixel_size(resolution, ratio)


def test_auto_ratio_follows_the_first_reference(http: httpx.Client) -> None:
    reference = data_uri(Image.new("RGB", (320, 180), (200, 30, 30)))
    data = run(http, action="image2image", aspect_ratio="auto", image_urls=[reference])
    size = Image.open(io.BytesIO(download(http, data))).size
    assert size == catalog.MODELS["doubao-seedream-4.5"].pixel_size("2K", "16:9")
    plain = run(http, aspect_ratio="auto")
    assert Image.open(io.BytesIO(download(http, plain))).size == (2048, 2048)


def test_same_seed_gives_the_same_bytes(http: httpx.Client, simulator: SimulatorHandle) -> None:
    one = download(http, run(http, seed=42, model=M40, resolution="1K"))
    two = download(http, run(http, seed=42, model=M40, resolution="1K"))
    other = download(http, run(http, seed=43, model=M40, resolution="1K"))
    assert one == two and one != other
    random_seed = run(http, seed=-1, model=M40, resolution="1K")
    state = simulator.task(random_seed["task_id"])
    assert state is not None and 0 <= state.seed <= catalog.MAX_SEED


def test_group_returns_max_images_entries_that_form_a_set(http: httpx.Client) -> None:
    data = run(
        http,
        model=M40,
        resolution="1K",
        sequential_image_generation="auto",
        sequential_image_generation_options={"max_images": 3},
    )
    assert data["action"] == "group"
    assert len(data["result"]["images"]) == 3
    images = [download(http, data, i) for i in range(3)]
    assert len(set(images)) == 3
    assert all(url.endswith(f"/{i}.jpeg") for i, url in enumerate(image_urls(data)))


def _mean_rgb(data: bytes) -> list[float]:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = image.size
    return list(ImageStat.Stat(image.crop((w // 4, h // 4, 3 * w // 4, 3 * h // 4))).mean)


def test_references_are_visibly_composited(http: httpx.Client, simulator: SimulatorHandle) -> None:
    red = data_uri(Image.new("RGB", (256, 256), (230, 0, 0)), "JPEG")
    common = {"model": M40, "resolution": "1K", "seed": 9, "prompt": "same prompt"}
    plain = download(http, run(http, **common))
    edited = download(http, run(http, action="edit", image_urls=[red], **common))
    r, g, b = _mean_rgb(edited)
    assert r > g + 60 and r > b + 60, (r, g, b)  # the red reference shows through
    fused = download(http, run(http, action="reference", image_urls=[red, red], **common))
    assert fused != plain
    # A link to this simulator's own image is resolved locally; other hosts become a placeholder.
    mine = image_urls(run(http, **common))[0]
    local = download(http, run(http, action="reference", image_urls=[mine, red], **common))
    external = "https://example.invalid/cat.png"
    placeholder = download(
        http, run(http, action="reference", image_urls=[external, red], **common)
    )
    assert len({plain, fused, local, placeholder}) == 4
    assert simulator.stats.downloads_ok == 5


def test_a_finished_task_keeps_only_a_small_copy_of_a_large_upload(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    noise = Image.effect_noise((1600, 1200), 90)  # incompressible: a big PNG
    upload = data_uri(Image.merge("RGB", (noise, noise.point(lambda v: v // 4), noise)), "PNG")
    assert len(upload) > 2_000_000
    data = run(http, action="image2image", aspect_ratio="auto", image_urls=[upload], model=M40)
    r, g, b = _mean_rgb(download(http, data))
    assert r > g + 30 and b > g + 30, (r, g, b)  # the magenta upload still shows through
    state = simulator.task(data["task_id"])
    assert state is not None and state.aspect_ratio == "4:3"  # from the full-size upload
    (kept,) = state.request.image_urls
    assert kept.startswith("data:image/jpeg;base64,") and len(kept) < 200_000
    (recorded,) = [r for r in simulator.requests if r.body_size > len(upload)]
    assert recorded.scope == "submit" and recorded.body == b""  # counted, not kept


# -- scale, connections, lifecycle of the server -------------------------------------------
def test_200_concurrent_tasks_complete(simulator: SimulatorHandle) -> None:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    started = time.monotonic()
    with httpx.Client(base_url=simulator.url, limits=limits, timeout=30) as client:

        def one(i: int) -> None:
            try:
                payload = body(prompt=f"task {i}", seed=i, model=M40, resolution="1K")
                task_id = client.post("/v1/tasks", json=payload).json()["task_id"]
                status = wait_done(client, task_id, timeout=25)["status"]
                with lock:
                    results.append(status)
            except BaseException as exc:  # surfaced below
                with lock:
                    errors.append(exc)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(200)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    assert not errors, errors[:3]
    assert results == ["completed"] * 200
    assert simulator.stats.submits == 200
    print(f"200 concurrent tasks: {elapsed:.2f} s")


def test_keep_alive_serves_many_requests_on_one_connection(simulator: SimulatorHandle) -> None:
    host, port = simulator.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as conn:
        conn.settimeout(5)
        reader = conn.makefile("rb")
        for _ in range(3):
            conn.sendall(f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            status = reader.readline()
            assert status.startswith(b"HTTP/1.1 200")
            headers: dict[bytes, bytes] = {}
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            reader.read(int(headers[b"content-length"]))
            assert headers[b"x-seedream-simulator"].startswith(b"1; speed=")


def test_stop_closes_idle_connections_and_frees_the_port(start_simulator: StartSimulator) -> None:
    sim = start_simulator()
    with httpx.Client(base_url=sim.url) as client:
        assert client.get("/health").status_code == 200  # leaves an idle keep-alive connection
        started = time.monotonic()
        sim.stop()
        assert time.monotonic() - started < 2
        assert not sim.running
        with pytest.raises(httpx.TransportError):
            client.get("/health")
    sim.stop()  # idempotent


def test_requests_are_recorded_with_bodies(http: httpx.Client, simulator: SimulatorHandle) -> None:
    task_id = submit(http, prompt="recorded prompt")["task_id"]
    http.get(f"/v1/tasks/{task_id}")
    submits = [r for r in simulator.requests if r.scope == "submit"]
    assert submits[0].json()["prompt"] == "recorded prompt"
    assert submits[0].status == 200 and submits[0].method == "POST"
    assert [r.scope for r in simulator.requests] == ["submit", "get"]
    assert simulator.task_ids() == [task_id]
    assert simulator.task("task-wave-nope") is None
