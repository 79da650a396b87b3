"""The helpers (generate, group, edit, image2image, reference, batch, sweep, Job) end to end
against the MockTransport fake server. History (``seedream_jupyter.store``) may or may not be
available; SEEDREAM_HOME is a tmp dir either way and nothing here depends on it."""

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

import httpx
import numpy as np
import pytest
from PIL import Image

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

pytestmark = [
    pytest.mark.usefixtures("backoffs"),
    pytest.mark.filterwarnings("ignore:seedream history is unavailable:RuntimeWarning"),
]


def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def sent_images(payload: dict[str, Any]) -> list[tuple[str, bytes]]:
    out = []
    for uri in payload["image_urls"]:
        head, _, data = uri.partition(",")
        out.append((head, base64.b64decode(data)))
    return out


# -- generate ------------------------------------------------------------------------------


def test_generate_returns_pil_images_of_the_served_size(server: Any, client: Client) -> None:
    res = sj.generate("a red fox", model="4.0", resolution="1K", aspect_ratio="16:9", client=client)
    assert isinstance(res, sj.Result)
    assert res.status == "completed" and res.task_id.startswith("task-wave")
    assert len(res) == 1
    (img,) = res.images
    assert isinstance(img, Image.Image)
    assert img.size == (1280, 720)
    assert res.model == "doubao-seedream-4.0"
    assert res.request == server.payloads[0]
    assert res.urls and res.urls[0].startswith("http://sim.test/files/")
    assert res.cost_usd == pytest.approx(0.0238)
    assert len(server.submits) == 1


def test_done_when_generate_with_the_default_client(
    server: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the one-liner: sj.generate('a red fox', model='4.5').images
    monkeypatch.setattr(session(), "client", lambda: client)
    images = sj.generate("a red fox", model="4.5").images
    assert [img.size for img in images] == [(2048, 2048)]
    payload = server.payloads[0]
    assert payload["model"] == "doubao-seedream-4.5"
    assert payload["watermark"] is False  # off by default, as the seed says
    assert payload["action"] == "generate" and payload["n"] == 1 and payload["seed"] == -1


def test_generate_n_images_in_order(server: Any, client: Client, image_bytes: Any) -> None:
    server.image_size = (48, 32)
    res = sj.generate("x", n=3, client=client)
    assert len(res) == 3
    assert server.payloads[0]["n"] == 3
    colours = [img.convert("RGB").getpixel((0, 0)) for img in res.images]
    expected = [
        Image.open(io.BytesIO(image_bytes(48, 32, "jpeg", i))).convert("RGB").getpixel((0, 0))
        for i in range(3)
    ]
    assert colours == expected


@pytest.mark.parametrize("shape", [("list", "entries"), ("str", "entries"), ("list", "one-entry")])
def test_generate_accepts_every_result_shape(
    server: Any, client: Client, shape: tuple[str, str]
) -> None:
    server.url_shape, server.group_shape = shape
    server.image_size = (32, 32)
    assert len(sj.group("x", max_images=3, client=client)) == 3


def test_generate_png_on_5_0_lite(server: Any, client: Client) -> None:
    server.image_size = (32, 32)
    res = sj.generate("x", model="5.0-lite", output_format="png", client=client)
    assert server.payloads[0]["output_format"] == "png"
    assert res.images[0].format == "PNG"


async def test_agenerate(server: Any, client: Client) -> None:
    server.image_size = (32, 32)
    res = await sj.agenerate("a red fox", model="4.5", client=client)
    assert res.images[0].size == (32, 32)
    assert len(server.submits) == 1


async def test_async_twins(server: Any, client: Client) -> None:
    server.image_size = (16, 16)
    img = Image.new("RGB", (20, 20))
    await api.agroup("x", max_images=2, client=client)
    await api.aedit(img, "x", client=client)
    await api.aimage2image(img, "x", client=client)
    await api.areference([img, img], "x", client=client)
    assert [p["action"] for p in server.payloads] == ["group", "edit", "image2image", "reference"]


# -- the other helpers send the right payloads ----------------------------------------------


def test_group_payload(server: Any, client: Client) -> None:
    server.image_size = (32, 32)
    res = sj.group("three moments of one night", max_images=3, model="4.5", client=client)
    payload = server.payloads[0]
    assert payload["action"] == "group"
    assert payload["sequential_image_generation"] == "auto"
    assert payload["sequential_image_generation_options"] == {"max_images": 3}
    assert "n" not in payload
    assert len(res) == 3


def test_edit_payload(server: Any, client: Client) -> None:
    server.image_size = (32, 32)
    src = Image.new("RGB", (40, 30), (1, 2, 3))
    sj.edit(src, "make it night", model="4.0", resolution="1K", client=client)
    payload = server.payloads[0]
    assert payload["action"] == "edit" and payload["model"] == "doubao-seedream-4.0"
    ((head, data),) = sent_images(payload)
    assert head == "data:image/png;base64"
    assert Image.open(io.BytesIO(data)).size == (40, 30)


def test_image2image_payload_from_a_path_and_a_url(
    server: Any, client: Client, tmp_path: Path, image_bytes: Any
) -> None:
    server.image_size = (32, 32)
    path = tmp_path / "ref.jpg"
    path.write_bytes(image_bytes(50, 40))
    sj.image2image([path, "https://example.com/b.png"], "in watercolour", client=client)
    payload = server.payloads[0]
    assert payload["action"] == "image2image"
    assert payload["image_urls"][1] == "https://example.com/b.png"
    assert sent_images({"image_urls": payload["image_urls"][:1]}) == [
        ("data:image/jpeg;base64", image_bytes(50, 40))
    ]


def test_reference_payload(server: Any, client: Client, image_bytes: Any) -> None:
    server.image_size = (32, 32)
    refs = [image_bytes(20, 20, "png"), np.zeros((10, 10, 3), np.uint8), Image.new("RGB", (8, 8))]
    sj.reference(refs, "fuse them", model="4.5", aspect_ratio="auto", client=client)
    payload = server.payloads[0]
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
    server: Any, client: Client, call: Callable[[Client], Any]
) -> None:
    with pytest.raises(ValidationError):
        call(client)
    assert server.requests == []


# -- failures ---------------------------------------------------------------------------------


def test_failed_task_raises_with_the_server_message(server: Any, client: Client) -> None:
    server.fail_prompts["forbidden thing"] = (
        "content_policy",
        "the prompt was rejected by the filter",
    )
    with pytest.raises(TaskFailedError) as info:
        sj.generate("forbidden thing", client=client)
    assert info.value.code == "content_policy"
    assert "the prompt was rejected by the filter" in str(info.value)
    assert info.value.task_id in server.tasks


def test_timeout_raises_with_the_task_id(server: Any, client: Client) -> None:
    server.script = [{"status": "processing", "progress": 3}]
    with pytest.raises(TaskTimeoutError) as info:
        sj.generate("x", timeout=0.2, client=client)
    assert info.value.task_id in server.tasks
    assert "sj.resume" in str(info.value)


# -- Job control ------------------------------------------------------------------------------


def test_job_reports_progress(server: Any, client: Client) -> None:
    server.image_size = (16, 16)
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
    assert ("processing", 30) in states and ("processing", 70) in states
    assert states.index(("processing", 30)) < states.index(("processing", 70))


def test_job_cancel_on_a_queued_task_cancels_it(server: Any, client: Client) -> None:
    server.script = [{"status": "queued", "progress": 0}]
    job = api.start(GenerationRequest(prompt="x"), client=client, cache=False)
    until(lambda: job.task_id is not None)
    message = job.cancel()
    assert "cancelled" in message and "refunded" in message
    with pytest.raises(TaskCancelledError):
        job.wait(5)
    assert job.state == "cancelled"
    (cancel,) = server.cancels
    assert cancel.url.path == f"/v1/tasks/{job.task_id}/cancel"
    assert server.tasks[job.task_id]["status"] == "cancelled"


def test_job_cancel_on_a_processing_task_detaches(server: Any, client: Client) -> None:
    server.script = [{"status": "processing", "progress": 40}]
    job = api.start(GenerationRequest(prompt="x"), client=client, cache=False)
    until(lambda: job.state == "processing")
    message = job.cancel()
    assert "still processing" in message and job.task_id in message
    with pytest.raises(TaskDetachedError) as info:
        job.wait(5)
    assert info.value.task_id == job.task_id
    assert job.state == "detached"
    assert server.cancels == []  # nothing was sent: the provider cannot cancel it


def test_cancel_after_completion_is_harmless(server: Any, client: Client) -> None:
    server.image_size = (16, 16)
    job = api.start(GenerationRequest(prompt="x"), client=client, cache=False)
    job.wait(10)
    assert "completed" in job.cancel()
    assert server.cancels == []


# -- batch and sweep --------------------------------------------------------------------------


def test_batch_bounded_concurrency_in_order(server: Any, client: Client) -> None:
    server.image_size = (16, 16)
    server.submit_delay = 0.03
    prompts = [f"prompt {i}" for i in range(6)]
    results = sj.batch(prompts, concurrency=2, client=client, cache=False)
    assert [r.prompt for r in results] == prompts
    assert len(server.submits) == 6
    assert server.max_in_flight_submits <= 2
    assert server.max_active_tasks == 2  # bounded, and actually concurrent
    assert results.failures == {}
    assert len(results.images) == 6


def test_batch_concurrency_one_is_sequential(server: Any, client: Client) -> None:
    server.image_size = (16, 16)
    sj.batch(["a", "b", "c"], concurrency=1, client=client, cache=False)
    assert server.max_active_tasks == 1


def test_batch_accepts_requests_strings_and_dicts(server: Any, client: Client) -> None:
    server.image_size = (16, 16)
    items = [
        GenerationRequest(prompt="one", model="4.0", resolution="1K"),
        "two",
        {"prompt": "three", "model": "5.0-lite", "n": 2},
    ]
    results = sj.batch(items, client=client, cache=False, labels=["a", "b", "c"])
    assert [p["prompt"] for p in sorted(server.payloads, key=lambda p: p["prompt"])] == [
        "one",
        "three",
        "two",
    ]
    assert results.labels == ["a", "b", "c"]
    assert [len(r) for r in results] == [1, 1, 2]


def test_batch_failures_do_not_stop_the_others(server: Any, client: Client) -> None:
    server.image_size = (16, 16)
    server.fail_prompts["bad"] = ("task_failed", "model error")
    with pytest.warns(UserWarning, match="1 of 3 failed"):
        results = sj.batch(["good 1", "bad", "good 2"], client=client, cache=False)
    assert [r.prompt for r in results] == ["good 1", "good 2"]
    assert set(results.failures) == {"bad"}
    assert isinstance(results.failures["bad"], TaskFailedError)


def test_sweep_is_the_cartesian_product_with_labels(server: Any, client: Client) -> None:
    server.image_size = (16, 16)
    results = sj.sweep(
        "a {animal}, {style} style",
        animal=["fox", "owl"],
        style=["ink", "oil"],
        seed=[1, 2],
        model="4.0",
        resolution="1K",
        client=client,
        cache=False,
    )
    assert len(results) == 8
    sent = {(p["prompt"], p["seed"]) for p in server.payloads}
    assert sent == {
        (f"a {a}, {s} style", seed)
        for a in ("fox", "owl")
        for s in ("ink", "oil")
        for seed in (1, 2)
    }
    assert all(
        p["model"] == "doubao-seedream-4.0" and p["resolution"] == "1K" for p in server.payloads
    )
    assert results.labels[0] == "animal=fox, style=ink, seed=1"
    assert results.labels[-1] == "animal=owl, style=oil, seed=2"
    assert len(set(results.labels)) == 8
    for label, res in zip(results.labels, results):
        animal = label.split(",")[0].split("=")[1]
        assert animal in res.prompt
    assert results.grid(thumb_side=32).size[0] > 0


def test_sweep_over_a_request_field_only(server: Any, client: Client) -> None:
    server.image_size = (16, 16)
    results = sj.sweep("a fox", aspect_ratio=["1:1", "16:9", "9:16"], client=client, cache=False)
    assert sorted(p["aspect_ratio"] for p in server.payloads) == ["16:9", "1:1", "9:16"]
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
    server: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.image_size = (16, 16)
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", "0.07")  # two images at $0.02975, not three
    jobs = [api.start(GenerationRequest(prompt=f"p{i}"), client=client) for i in range(4)]
    outcomes: list[object] = []
    for job in jobs:
        try:
            outcomes.append(job.wait(30))
        except sj.BudgetExceededError as exc:
            outcomes.append(exc)
    refused = [o for o in outcomes if isinstance(o, sj.BudgetExceededError)]
    assert len(server.submits) == 2 and len(refused) == 2
    assert "left" in str(refused[0])


def test_a_budget_without_history_sends_nothing(
    server: Any, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", "5")

    def unavailable(home: Any = None) -> Any:
        raise OSError("read-only file system")

    monkeypatch.setattr(session(), "store", unavailable)
    # no history at all refuses the submit (issue 12), budget or not
    with pytest.raises(sj.errors.HistoryError, match="SEEDREAM_HOME"):
        sj.generate("x", client=client)
    assert server.submits == []


def test_subscribing_to_an_ended_job_sees_its_end_at_once(server: Any, client: Client) -> None:
    server.fault("POST", "/v1/tasks", httpx.Response(401, json={"error": {"message": "no"}}))
    job = api.start(GenerationRequest(prompt="x"), client=client)
    with pytest.raises(sj.AuthenticationError):
        job.wait(10)
    seen: list[str] = []
    job.subscribe(lambda j: seen.append(j.state))
    assert seen == ["error"]


def test_blocking_calls_on_the_loop_thread_are_refused_not_deadlocked(
    server: Any, client: Client
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
    assert len(server.submits) == 1  # only the job started outside
