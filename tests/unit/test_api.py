"""The helpers (generate, group, edit, image2image, reference, batch, sweep, Job) end to end
against ``simulator.mock`` (the ``sim`` fixture). History (``seedream_jupyter.store``) may or
may not be available; SEEDREAM_HOME is a tmp dir either way and nothing here depends on it."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from simtools import (
    SMALL_SIDE,
    answers,
    max_overlap,
    of_scope,
    payloads,
    request_spans,
    sim_client,
    task_spans,
)

import seedream_jupyter as sj
from seedream_jupyter import api
from seedream_jupyter.client import Client
from seedream_jupyter.errors import (
    TaskCancelledError,
    TaskDetachedError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.session import session
from seedream_jupyter.simulator import MockSimulator

pytestmark = [
    pytest.mark.usefixtures("backoffs"),
    pytest.mark.filterwarnings("ignore:seedream history is unavailable:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore::seedream_jupyter.api.SimulatorWarning"),
]
MakeSim = Callable[..., MockSimulator]


def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def served(sim: MockSimulator, url: str) -> Image.Image:
    """The image the simulator serves at ``url`` (fetched around the client under test)."""
    with sim.client() as http:
        return Image.open(io.BytesIO(http.get(url).content))


@pytest.fixture
def full_size(make_sim: MakeSim) -> Any:
    """A client on a simulator that draws images at their true pixel size."""
    sim = make_sim(image_side=None)
    c = sim_client(sim)
    yield sim, c
    c.close()


def sent_images(payload: dict[str, Any]) -> list[tuple[str, bytes]]:
    out = []
    for uri in payload["image_urls"]:
        head, _, data = uri.partition(",")
        out.append((head, base64.b64decode(data)))
    return out


# -- generate ------------------------------------------------------------------------------


def test_generate_returns_pil_images_of_the_served_size(full_size: Any) -> None:
    sim, client = full_size
    res = sj.generate("a red fox", model="4.0", resolution="1K", aspect_ratio="16:9", client=client)
    assert isinstance(res, sj.Result)
    assert res.status == "completed" and res.task_id.startswith("task-wave")
    assert len(res) == 1
    (img,) = res.images
    assert isinstance(img, Image.Image)
    assert img.size == (1280, 720)
    assert res.model == "doubao-seedream-4.0"
    assert res.request == payloads(sim)[0]
    assert res.urls and res.urls[0].startswith(f"{sim.url}/files/{res.task_id}/")
    assert res.cost_usd == pytest.approx(0.0238)
    assert sim.stats.submits == 1


def test_done_when_generate_with_the_default_client(
    full_size: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the one-liner: sj.generate('a red fox', model='4.5').images
    sim, client = full_size
    monkeypatch.setattr(session(), "client", lambda: client)
    images = sj.generate("a red fox", model="4.5").images
    assert [img.size for img in images] == [(2048, 2048)]
    payload = payloads(sim)[0]
    assert payload["model"] == "doubao-seedream-4.5"
    assert payload["watermark"] is False  # off by default, as the seed says
    assert payload["action"] == "generate" and payload["n"] == 1 and payload["seed"] == -1


def test_generate_n_images_in_order(sim: MockSimulator, client: Client) -> None:
    res = sj.generate("x", n=3, aspect_ratio="3:2", client=client)
    assert len(res) == 3
    assert payloads(sim)[0]["n"] == 3
    # the simulator draws each image of a task differently, so the order is observable
    expected = [served(sim, url) for url in res.urls]
    assert [url.rsplit("/", 1)[1] for url in res.urls] == ["0.jpeg", "1.jpeg", "2.jpeg"]
    assert [img.tobytes() for img in res.images] == [img.tobytes() for img in expected]
    assert len({img.tobytes() for img in res.images}) == 3


@pytest.mark.parametrize(
    ("wire", "helper", "entries", "url_type"),
    [
        ("newest", "group", 3, list),  # one entry per image, each url a one-link list
        ("legacy", "generate", 3, str),  # one entry per image, each url a plain string
        ("legacy", "group", 1, list),  # a group as ONE entry whose url list holds every link
    ],
)
def test_generate_accepts_every_result_shape(
    make_sim: MakeSim, wire: str, helper: str, entries: int, url_type: type
) -> None:
    sim = make_sim(wire=wire)
    with sim_client(sim) as client:
        if helper == "group":
            res = sj.group("x", max_images=3, client=client)
        else:
            res = sj.generate("x", n=3, client=client)
    assert len(res) == 3 and len(res.images) == 3
    images = answers(sim)[-1]["result"]["images"]
    assert len(images) == entries and all(isinstance(e["url"], url_type) for e in images)


def test_generate_png_on_5_0_lite(sim: MockSimulator, client: Client) -> None:
    res = sj.generate("x", model="5.0-lite", output_format="png", client=client)
    assert payloads(sim)[0]["output_format"] == "png"
    assert res.images[0].format == "PNG"


async def test_agenerate(sim: MockSimulator, client: Client) -> None:
    res = await sj.agenerate("a red fox", model="4.5", client=client)
    assert res.images[0].size == (SMALL_SIDE, SMALL_SIDE)
    assert sim.stats.submits == 1


async def test_async_twins(sim: MockSimulator, client: Client) -> None:
    img = Image.new("RGB", (20, 20))
    await api.agroup("x", max_images=2, client=client)
    await api.aedit(img, "x", client=client)
    await api.aimage2image(img, "x", client=client)
    await api.areference([img, img], "x", client=client)
    assert [p["action"] for p in payloads(sim)] == ["group", "edit", "image2image", "reference"]


# -- the other helpers send the right payloads ----------------------------------------------


def test_group_payload(sim: MockSimulator, client: Client) -> None:
    res = sj.group("three moments of one night", max_images=3, model="4.5", client=client)
    payload = payloads(sim)[0]
    assert payload["action"] == "group"
    assert payload["sequential_image_generation"] == "auto"
    assert payload["sequential_image_generation_options"] == {"max_images": 3}
    assert "n" not in payload
    assert len(res) == 3


def test_edit_payload(sim: MockSimulator, client: Client) -> None:
    src = Image.new("RGB", (40, 30), (1, 2, 3))
    sj.edit(src, "make it night", model="4.0", resolution="1K", client=client)
    payload = payloads(sim)[0]
    assert payload["action"] == "edit" and payload["model"] == "doubao-seedream-4.0"
    ((head, data),) = sent_images(payload)
    assert head == "data:image/png;base64"
    assert Image.open(io.BytesIO(data)).size == (40, 30)


def test_image2image_payload_from_a_path_and_a_url(
    sim: MockSimulator, client: Client, tmp_path: Path, image_bytes: Any
) -> None:
    path = tmp_path / "ref.jpg"
    path.write_bytes(image_bytes(50, 40))
    sj.image2image([path, "https://example.com/b.png"], "in watercolour", client=client)
    payload = payloads(sim)[0]
    assert payload["action"] == "image2image"
    assert payload["image_urls"][1] == "https://example.com/b.png"
    assert sent_images({"image_urls": payload["image_urls"][:1]}) == [
        ("data:image/jpeg;base64", image_bytes(50, 40))
    ]


def test_reference_payload(sim: MockSimulator, client: Client, image_bytes: Any) -> None:
    refs = [image_bytes(20, 20, "png"), np.zeros((10, 10, 3), np.uint8), Image.new("RGB", (8, 8))]
    sj.reference(refs, "fuse them", model="4.5", aspect_ratio="auto", client=client)
    payload = payloads(sim)[0]
    assert payload["action"] == "reference" and payload["aspect_ratio"] == "auto"
    assert [h for h, _ in sent_images(payload)] == ["data:image/png;base64"] * 3


# -- validation before anything is sent -----------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: sj.generate("", client=c),
        lambda c: sj.generate("x", model="doubao-seedream-9", client=c),
        lambda c: sj.generate("x", model="4.5", resolution="3K", client=c),
        lambda c: sj.generate("x", n=16, client=c),
        lambda c: sj.generate("x", seed=-2, client=c),
        lambda c: sj.generate("x", colour="red", client=c),
        lambda c: sj.edit(Image.new("RGB", (8, 8)), "x", model="5.0-lite", client=c),
        lambda c: sj.edit([Image.new("RGB", (8, 8))] * 2, "x", client=c),
        lambda c: sj.reference([Image.new("RGB", (8, 8))], "x", client=c),
        lambda c: sj.image2image("no/such/file.png", "x", client=c),
        lambda c: sj.image2image(b"GIF89a-not-allowed", "x", client=c),
        lambda c: sj.group("x", max_images=16, client=c),
        lambda c: sj.batch(["ok", {"prompt": "x", "model": "nope"}], client=c),
        lambda c: sj.batch(["ok", {"model": "4.5"}], client=c),
        lambda c: sj.batch(["ok"], concurrency=0, client=c),
        lambda c: sj.sweep("a {animal}", animal=["fox", "owl"], seed=[1, -5], client=c),
        lambda c: sj.sweep("a {animal} in {place}", animal=["fox"], client=c),
    ],
)
def test_validation_error_sends_zero_requests(
    sim: MockSimulator, client: Client, call: Callable[[Client], Any]
) -> None:
    with pytest.raises(ValidationError):
        call(client)
    assert sim.requests == []


# -- failures ---------------------------------------------------------------------------------


def test_failed_task_raises_with_the_server_message(make_sim: MakeSim) -> None:
    sim = make_sim(faults="fail")
    with sim_client(sim) as client, pytest.raises(TaskFailedError) as info:
        sj.generate("forbidden thing", client=client)
    state = sim.task(info.value.task_id or "")
    assert state is not None and state.status == "failed"
    assert info.value.code == "task_failed"
    assert state.json["error"]["message"] in str(info.value)


def test_timeout_raises_with_the_task_id(make_sim: MakeSim) -> None:
    sim = make_sim(queue_seconds=0, speed=0.01)  # processing for minutes
    with sim_client(sim) as client, pytest.raises(TaskTimeoutError) as info:
        sj.generate("x", timeout=0.2, client=client)
    assert sim.task_ids() == [info.value.task_id]
    assert "sj.resume" in str(info.value)


# -- Job control ------------------------------------------------------------------------------


def test_job_reports_progress(make_sim: MakeSim) -> None:
    sim = make_sim(speed=20, queue_seconds=0.02)
    client = sim_client(sim)
    states: list[tuple[str, int]] = []

    started: list[api.Job] = []

    class Recorder:  # the progress view the helpers drive
        def add(self, job: api.Job) -> None:
            started.append(job)
            job.subscribe(lambda j: states.append((j.state, j.progress)))

        def refresh(self) -> None: ...

        def close(self) -> None: ...

    class Frontend:
        def progress(self, title: str) -> Recorder:
            return Recorder()

        def notice(self, text: str) -> None: ...

    session().set_frontend(Frontend())
    res = sj.generate("x", client=client, cache=False)
    (job,) = started
    assert job.state == "completed" and job.done and job.result is res
    until(lambda: bool(states) and states[-1] == ("completed", 100))
    client.close()
    processing = [p for s, p in states if s == "processing"]
    assert len(set(processing)) >= 2 and processing == sorted(processing)  # it rose, in order
    polled = [(a["status"], a["progress"]) for a in answers(sim)]
    assert {("processing", p) for p in processing} <= set(polled)  # as the server said


def test_job_cancel_on_a_queued_task_cancels_it(make_sim: MakeSim) -> None:
    sim = make_sim(queue_seconds=30)
    client = sim_client(sim)
    job = api.start(GenerationRequest(prompt="x"), client=client, cache=False)
    until(lambda: job.task_id is not None)
    message = job.cancel()
    assert "cancelled" in message and "refunded" in message
    with pytest.raises(TaskCancelledError):
        job.wait(5)
    assert job.state == "cancelled"
    client.close()
    (cancel,) = of_scope(sim, "cancel")
    assert cancel.path == f"/v1/tasks/{job.task_id}/cancel" and cancel.status == 200
    state = sim.task(job.task_id or "")
    assert state is not None and state.status == "cancelled"


def test_job_cancel_on_a_processing_task_detaches(make_sim: MakeSim) -> None:
    sim = make_sim(queue_seconds=0, speed=0.01)  # processing for minutes
    client = sim_client(sim)
    job = api.start(GenerationRequest(prompt="x"), client=client, cache=False)
    until(lambda: job.state == "processing")
    message = job.cancel()
    assert "still processing" in message and job.task_id in message
    with pytest.raises(TaskDetachedError) as info:
        job.wait(5)
    assert info.value.task_id == job.task_id
    assert job.state == "detached"
    client.close()
    assert sim.stats.cancels == 0  # nothing was sent: the provider cannot cancel it


def test_cancel_after_completion_is_harmless(sim: MockSimulator, client: Client) -> None:
    job = api.start(GenerationRequest(prompt="x"), client=client, cache=False)
    job.wait(10)
    assert "completed" in job.cancel()
    assert sim.stats.cancels == 0


# -- batch and sweep --------------------------------------------------------------------------


def test_batch_bounded_concurrency_in_order(make_sim: MakeSim) -> None:
    # each submit takes 30 ms to answer, each task 50 ms in the queue: overlaps would show
    sim = make_sim(faults="slow@submit~0.03", queue_seconds=0.05)
    prompts = [f"prompt {i}" for i in range(6)]
    with sim_client(sim) as client:
        results = sj.batch(prompts, concurrency=2, client=client, cache=False)
    assert [r.prompt for r in results] == prompts
    assert sim.stats.submits == 6
    assert max_overlap(request_spans(sim, "submit")) <= 2
    # bounded while the server holds them (a finished task's downloads hold no slot)
    assert max_overlap(task_spans(sim, on_server=True)) == 2  # ... and actually concurrent
    assert results.failures == {}
    assert len(results.images) == 6


def test_batch_concurrency_one_is_sequential(sim: MockSimulator, client: Client) -> None:
    sj.batch(["a", "b", "c"], concurrency=1, client=client, cache=False)
    spans = task_spans(sim, on_server=True)
    assert len(spans) == 3 and max_overlap(spans) == 1


def test_batch_accepts_requests_strings_and_dicts(sim: MockSimulator, client: Client) -> None:
    items = [
        GenerationRequest(prompt="one", model="4.0", resolution="1K"),
        "two",
        {"prompt": "three", "model": "5.0-lite", "n": 2},
    ]
    results = sj.batch(items, client=client, cache=False, labels=["a", "b", "c"])
    assert [p["prompt"] for p in sorted(payloads(sim), key=lambda p: p["prompt"])] == [
        "one",
        "three",
        "two",
    ]
    assert results.labels == ["a", "b", "c"]
    assert [len(r) for r in results] == [1, 1, 2]


def test_batch_failures_do_not_stop_the_others(make_sim: MakeSim) -> None:
    sim = make_sim(faults="fail#1")  # the first task created fails
    prompts = ["one", "two", "three"]
    with sim_client(sim) as client, pytest.warns(UserWarning, match="1 of 3 failed"):
        results = sj.batch(prompts, client=client, cache=False)
    states = [sim.task(task_id) for task_id in sim.task_ids()]
    (bad,) = [s.request.prompt for s in states if s is not None and s.status == "failed"]
    assert [r.prompt for r in results] == [p for p in prompts if p != bad]
    assert set(results.failures) == {bad}
    assert isinstance(results.failures[bad], TaskFailedError)


def test_sweep_over_a_request_field_only(sim: MockSimulator, client: Client) -> None:
    results = sj.sweep("a fox", aspect_ratio=["1:1", "16:9", "9:16"], client=client, cache=False)
    assert sorted(p["aspect_ratio"] for p in payloads(sim)) == ["16:9", "1:1", "9:16"]
    assert results.labels == ["aspect_ratio=1:1", "aspect_ratio=16:9", "aspect_ratio=9:16"]


# -- import time ------------------------------------------------------------------------------

_HEAVY = ("PIL", "IPython", "ipywidgets", "anywidget")


def _modules_after(statement: str) -> set[str]:
    code = (
        "import json, sys\n"
        f"{statement}\n"
        f"print(json.dumps(sorted(m for m in {_HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_seedream_jupyter_is_light() -> None:
    assert _modules_after("import seedream_jupyter") == set()


def test_import_core_modules_is_light() -> None:
    statement = (
        "import seedream_jupyter as sj\n"
        "import seedream_jupyter.api, seedream_jupyter.client, seedream_jupyter.results\n"
        "sj.Client, sj.GenerationRequest, sj.Result, sj.MODELS, sj.ValidationError"
    )
    assert _modules_after(statement) == set()


def test_a_budget_holds_for_concurrent_jobs(
    make_sim: MakeSim, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = make_sim(simulator_header=False)  # taken for the real, billed API
    client = sim_client(sim)
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", "0.07")  # two images at $0.02975, not three
    jobs = [api.start(GenerationRequest(prompt=f"p{i}"), client=client) for i in range(4)]
    outcomes: list[object] = []
    for job in jobs:
        try:
            outcomes.append(job.wait(30))
        except sj.BudgetExceededError as exc:
            outcomes.append(exc)
    client.close()
    refused = [o for o in outcomes if isinstance(o, sj.BudgetExceededError)]
    assert sim.stats.submit_requests == 2 and len(refused) == 2
    assert "left" in str(refused[0])


def test_a_budget_without_history_sends_nothing(
    sim: MockSimulator, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", "5")

    def unavailable(home: Any = None) -> Any:
        raise OSError("read-only file system")

    monkeypatch.setattr(session(), "store", unavailable)
    # no history at all refuses the submit (issue 12), budget or not
    with pytest.raises(sj.errors.HistoryError, match="SEEDREAM_HOME"):
        sj.generate("x", client=client)
    assert sim.requests == []


def test_subscribing_to_an_ended_job_sees_its_end_at_once(make_sim: MakeSim) -> None:
    sim = make_sim(api_key="sk-the-servers-own-key")  # ours is refused: HTTP 401
    client = sim_client(sim)
    job = api.start(GenerationRequest(prompt="x"), client=client)
    with pytest.raises(sj.AuthenticationError):
        job.wait(10)
    client.close()
    assert sim.stats.unauthorized == 1
    seen: list[str] = []
    job.subscribe(lambda j: seen.append(j.state))
    assert seen == ["error"]


def test_blocking_calls_on_the_loop_thread_are_refused_not_deadlocked(
    sim: MockSimulator, client: Client
) -> None:
    from seedream_jupyter import _loop

    job = api.start(GenerationRequest(prompt="started outside"), client=client)
    job.wait(10)

    async def inside() -> list[str]:  # where Job listeners run
        refused = []
        for call in (
            lambda: sj.generate("inside", client=client),
            lambda: sj.batch(["inside"], client=client),
            lambda: job.wait(1),
        ):
            with pytest.raises(RuntimeError, match="loop thread") as info:
                call()
            refused.append(str(info.value))
        return refused

    refused = _loop.submit(inside()).result(10)
    assert len(refused) == 3 and all("sj.agenerate" in text for text in refused)
    assert sim.stats.submits == 1  # only the job started outside


def test_load_ext_imports_neither_the_api_nor_the_history_nor_asyncio() -> None:
    code = (
        "import json, sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "before = set(sys.modules)\n"
        "shell.run_line_magic('load_ext', 'seedream_jupyter')\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert "seedream_jupyter.magic" in loaded
    heavy = {"httpx", "asyncio", "seedream_jupyter.api", "seedream_jupyter.store", "PIL.Image"}
    assert not loaded & heavy, loaded & heavy  # each loads on first use (%load_ext stays fast)
