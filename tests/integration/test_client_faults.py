"""The real client against the simulator over HTTP: the five actions, and every fault.

Reads (polls, cancels, downloads) must retry transient faults and recover; a submit that may
have reached the server must never be sent twice; task failures and dead links must raise
clear errors that keep the task id.
"""

from __future__ import annotations

import base64
import io
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image

from seedream_jupyter import catalog
from seedream_jupyter.client import Client, PollPolicy
from seedream_jupyter.errors import (
    AuthenticationError,
    ConnectionFailedError,
    ImageDownloadError,
    ServerError,
    TaskCancelledError,
    TaskFailedError,
    TaskTimeoutError,
)
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.simulator import SimulatorHandle
from seedream_jupyter.task import TaskStatus

if TYPE_CHECKING:
    from conftest import StartSimulator

KEY = "sk-client-faults-0123456789"
FAST_POLL = PollPolicy(first_delay=0.01, min_interval=0.01, max_interval=0.05)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("WAVE_API_KEY", "WAVE_API_KEY_FILE", "SEEDREAM_BASE_URL", "SEEDREAM_SIMULATOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path))


def make_client(sim: SimulatorHandle, max_retries: int = 5) -> Client:
    return Client(api_key=KEY, base_url=sim.url, poll=FAST_POLL, max_retries=max_retries)


@pytest.fixture
def client(simulator: SimulatorHandle) -> Iterator[Client]:
    with make_client(simulator) as c:
        yield c


def png_data_uri(color: tuple[int, int, int], size: tuple[int, int] = (96, 64)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def request(**overrides: Any) -> GenerationRequest:
    params: dict[str, Any] = {
        "prompt": "a lighthouse at dusk",
        "model": "doubao-seedream-4.0",
        "resolution": "1K",
    }
    params.update(overrides)
    return GenerationRequest(**params)


# -- happy paths ---------------------------------------------------------------------------
RED, BLUE = png_data_uri((220, 20, 20)), png_data_uri((20, 20, 220), (64, 96))


@pytest.mark.parametrize(
    ("overrides", "count"),
    [
        ({"action": "generate", "aspect_ratio": "16:9"}, 1),
        ({"action": "generate", "n": 2}, 2),
        ({"action": "image2image", "image_urls": (RED,), "aspect_ratio": "auto"}, 1),
        ({"action": "edit", "image_urls": (RED,), "model": "4.5", "resolution": "2K"}, 1),
        ({"action": "reference", "image_urls": (RED, BLUE)}, 1),
        ({"action": "group", "max_images": 3}, 3),
    ],
    ids=["generate", "generate-n2", "image2image", "edit", "reference", "group"],
)
def test_every_action_completes_with_the_true_sizes(
    client: Client, simulator: SimulatorHandle, overrides: dict[str, Any], count: int
) -> None:
    req = request(**overrides)
    submitted = client.submit(req)
    assert submitted.status is TaskStatus.QUEUED and submitted.task_id.startswith("task-wave")
    task = client.wait(submitted.task_id, timeout=30)
    assert task.status is TaskStatus.COMPLETED and len(task.urls) == count
    ratio = "3:2" if req.aspect_ratio == "auto" else req.aspect_ratio  # RED is 96x64
    expected = catalog.MODELS[req.model].pixel_size(req.resolution, ratio)
    for url in task.urls:
        image = Image.open(io.BytesIO(client.download(url, task_id=task.task_id)))
        assert image.size == expected
    assert simulator.stats.submit_requests == 1
    sent = simulator.requests[0].json()
    assert sent["action"] == req.action and sent["model"] == req.model
    assert simulator.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert client.simulated


@pytest.mark.simulator(queue_seconds=30)
def test_cancel_a_queued_task(client: Client, simulator: SimulatorHandle) -> None:
    task_id = client.submit(request()).task_id
    cancelled = client.cancel(task_id)
    assert cancelled.status is TaskStatus.CANCELLED and cancelled.refunded is True
    with pytest.raises(TaskCancelledError) as caught:
        client.wait(task_id, timeout=5)
    assert caught.value.task_id == task_id
    assert simulator.stats.cancelled == 1


@pytest.mark.simulator(api_key="sk-the-right-key-000")
def test_a_wrong_key_is_an_authentication_error_without_the_key(
    simulator: SimulatorHandle,
) -> None:
    with make_client(simulator) as wrong, pytest.raises(AuthenticationError) as caught:
        wrong.submit(request())
    assert KEY not in str(caught.value) and "sk-the-right-key-000" not in str(caught.value)
    assert simulator.stats.submits == 0


# -- reads recover from transient faults ---------------------------------------------------
@pytest.mark.parametrize(
    "faults",
    # counted, not drawn: the poller may look only once or twice, and every fault must fire
    [
        "429@get#2~0.01",
        "429@get#3~0",
        "500@get#2",
        "502@get#2",
        "503@get#2~0.01",
        "drop@get#2",
        "malformed@get#2",
        "slow@get#2~0.05",
    ],
)
def test_polls_recover_from_transient_faults(start_simulator: StartSimulator, faults: str) -> None:
    sim = start_simulator(faults=faults, fault_seed=1)
    with make_client(sim) as client:
        task_id = client.submit(request()).task_id
        task = client.wait(task_id, timeout=30)
        assert task.status is TaskStatus.COMPLETED
        assert client.download(task.urls[0], task_id=task_id)
    name = faults.split("@")[0]
    assert sim.stats.faults[name] >= 1, f"{faults} never fired"
    assert sim.stats.submit_requests == 1 and sim.stats.submits == 1


@pytest.mark.simulator(faults="500@cancel#1", queue_seconds=30)
def test_cancel_is_retried_after_a_server_error(client: Client, simulator: SimulatorHandle) -> None:
    task_id = client.submit(request()).task_id
    assert client.cancel(task_id).status is TaskStatus.CANCELLED
    assert simulator.stats.cancels == 2 and simulator.stats.cancelled == 1


@pytest.mark.parametrize("faults", ["truncate#2", "drop@download#1", "503@download#1~0"])
def test_downloads_recover_from_transient_faults(
    start_simulator: StartSimulator, faults: str
) -> None:
    sim = start_simulator(faults=faults)
    with make_client(sim) as client:
        task = client.wait(client.submit(request()).task_id, timeout=30)
        data = client.download(task.urls[0], task_id=task.task_id)
    assert Image.open(io.BytesIO(data)).size == (1024, 1024)
    fired = sum(sim.stats.faults.values())
    assert fired >= 1 and sim.stats.downloads == fired + 1 and sim.stats.downloads_ok == 1


# -- submits are never sent twice when they may have reached the server --------------------
@pytest.mark.parametrize("faults", ["500@submit", "502@submit", "503@submit~0"])
def test_a_submit_hitting_5xx_raises_without_a_second_submit(
    start_simulator: StartSimulator, faults: str
) -> None:
    sim = start_simulator(faults=faults)
    with make_client(sim) as client, pytest.raises(ServerError):
        client.submit(request())
    assert sim.stats.submit_requests == 1


@pytest.mark.simulator(faults="drop@submit")
def test_a_dropped_submit_raises_ambiguously_without_a_second_submit(
    client: Client, simulator: SimulatorHandle
) -> None:
    with pytest.raises(ConnectionFailedError) as caught:
        client.submit(request())
    assert "may exist" in str(caught.value)
    assert simulator.stats.submit_requests == 1 and simulator.stats.submits == 1


@pytest.mark.simulator(faults="malformed@submit")
def test_a_malformed_submit_answer_is_not_retried(
    client: Client, simulator: SimulatorHandle
) -> None:
    with pytest.raises(Exception, match="not valid JSON"):
        client.submit(request())
    assert simulator.stats.submit_requests == 1 and simulator.stats.submits == 1


@pytest.mark.simulator(faults="429@submit#2~0")
def test_a_rate_limited_submit_is_retried_because_it_was_not_accepted(
    client: Client, simulator: SimulatorHandle
) -> None:
    task = client.submit(request())
    assert simulator.stats.submit_requests == 3 and simulator.stats.submits == 1
    assert simulator.task_ids() == [task.task_id]


# -- tasks that end badly, links that do not work ------------------------------------------
@pytest.mark.simulator(faults="fail")
def test_a_failed_task_raises_with_the_server_message(
    client: Client, simulator: SimulatorHandle
) -> None:
    task_id = client.submit(request()).task_id
    with pytest.raises(TaskFailedError) as caught:
        client.wait(task_id, timeout=30)
    error = caught.value
    assert error.task_id == task_id and error.code == "task_failed"
    state = simulator.task(task_id)
    assert state is not None and error.server_message == state.json["error"]["message"]


@pytest.mark.simulator(faults="expired")
def test_an_expired_link_raises_image_download_error(client: Client) -> None:
    task = client.wait(client.submit(request()).task_id, timeout=30)
    with pytest.raises(ImageDownloadError) as caught:
        client.download(task.urls[0], task_id=task.task_id)
    assert caught.value.task_id == task.task_id and "410" in str(caught.value)


@pytest.mark.simulator(faults="truncate")
def test_a_link_that_always_truncates_raises_image_download_error(
    simulator: SimulatorHandle,
) -> None:
    with make_client(simulator, max_retries=1) as client:
        task = client.wait(client.submit(request()).task_id, timeout=30)
        with pytest.raises(ImageDownloadError) as caught:
            client.download(task.urls[0], task_id=task.task_id)
    assert caught.value.task_id == task.task_id
    assert simulator.stats.downloads == 2 and simulator.stats.downloads_ok == 0


def test_wait_does_not_outlast_its_timeout_when_the_server_is_slow(
    start_simulator: StartSimulator,
) -> None:
    sim = start_simulator(faults="slow@get~5")  # every poll answers after 5 s
    with make_client(sim) as client:
        task_id = client.submit(request()).task_id
        started = time.monotonic()
        with pytest.raises(TaskTimeoutError) as info:
            client.wait(task_id, timeout=0.3)
        waited = time.monotonic() - started
    assert waited < 0.9, waited  # the last look is cut short, not given a full second
    assert info.value.task_id == task_id


INTERRUPTED_SUBMIT = """
import sys
from seedream_jupyter.client import Client
client = Client(api_key=sys.argv[2], base_url=sys.argv[1])
try:
    client.submit(prompt="interrupted on the wire")
except KeyboardInterrupt as exc:
    print("INTERRUPT:", exc)
"""


def test_ctrl_c_during_a_submit_cancels_the_task_it_created(
    start_simulator: StartSimulator,
) -> None:
    # Deterministic: the Ctrl-C is sent once the server has the POST (recorded on arrival),
    # while its answer is held back for 5 s; no timer races the child's start-up under load.
    sim = start_simulator(faults="slow@submit~5", queue_seconds=30)
    child = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_SUBMIT, sim.url, "sk-interrupt-0123456789"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(r.method == "POST" and r.path == "/v1/tasks" for r in sim.requests):
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the submit never reached the simulator"
            time.sleep(0.01)
        child.send_signal(signal.SIGINT)  # Ctrl-C mid-submit
        stdout, stderr = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    (task_id,) = sim.task_ids()  # the POST had reached the server ...
    assert f"task {task_id} was created and has been cancelled" in stdout, (stdout, stderr)
    assert sim.stats.cancelled == 1  # ... and the task it made is not left to be billed
