"""The simulator's own request checker over real sockets: model ids, defaults, groups,
reference images, data: URIs, and upstream options in both placements."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from seedream_jupyter import catalog
from seedream_jupyter.simulator import SimulatorHandle, UpstreamOption

M40, M45, LITE = "doubao-seedream-4.0", "doubao-seedream-4.5", "doubao-seedream-5.0-lite"


@pytest.fixture
def http(simulator: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=simulator.url, timeout=30) as client:
        yield client


def png_uri(size: tuple[int, int] = (8, 8), fmt: str = "PNG", mime: str = "image/png") -> str:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, fmt)
    return f"data:{mime};base64," + base64.b64encode(out.getvalue()).decode()


def post(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/tasks", json={"prompt": "a heron", **body})


def refused(response: httpx.Response, code: str = "invalid_parameter") -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["type"] == "invalid_request_error"
    message: str = error["message"]
    return message


def wait_done(http: httpx.Client, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        data: dict[str, Any] = http.get(f"/v1/tasks/{task_id}").json()
        if data["status"] in ("completed", "failed", "cancelled"):
            return data
        assert time.monotonic() < deadline
        time.sleep(0.01)


# -- model ids -------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["4.5", "seedream-4.5", "Doubao-Seedream-4.5", "dall-e-3", ""])
def test_aliases_and_foreign_ids_are_model_not_found(http: httpx.Client, model: str) -> None:
    message = refused(post(http, model=model), "model_not_found")
    assert message.startswith("model: ") and M45 in message
    if model in ("4.5", "seedream-4.5"):
        assert f"did you mean {M45!r}" in message


@pytest.mark.parametrize(
    "model", ["doubao-seedream-5.0-pro", "doubao-seedream-5.0-flash", "doubao-seedream-5.0"]
)
def test_unknown_seedream_ids_are_served_with_generic_rules(
    http: httpx.Client, simulator: SimulatorHandle, model: str
) -> None:
    body = {"model": model, "action": "edit", "resolution": "3K", "aspect_ratio": "9:21"}
    response = post(http, output_format="png", image_urls=[png_uri()], **body)
    assert response.status_code == 200, response.text
    data = wait_done(http, response.json()["task_id"])
    assert data["status"] == "completed" and data["model"] == model
    image = Image.open(io.BytesIO(http.get(data["result"]["images"][0]["url"][0]).content))
    assert image.format == "PNG" and image.size == (2016, 4704)  # 3K, the transpose of 21:9
    state = simulator.task(data["task_id"])
    assert state is not None and state.request.generic and not state.request.spec.aliases


def test_generic_rules_still_check_the_values(http: httpx.Client) -> None:
    generic = "doubao-seedream-9.9"
    assert refused(post(http, model=generic, resolution="8K")).startswith("resolution: ")
    assert refused(post(http, model=generic, output_format="gif")).startswith("output_format: ")
    refs = [png_uri()] * 15
    assert refused(post(http, model=generic, image_urls=refs)).startswith("image_urls: ")


# -- defaults and groups ---------------------------------------------------------------------
def test_the_documented_defaults_fill_in(http: httpx.Client, simulator: SimulatorHandle) -> None:
    task_id = post(http, model=M45).json()["task_id"]
    state = simulator.task(task_id)
    assert state is not None
    request = state.request
    assert (request.action, request.n, request.seed) == ("generate", 1, -1)
    assert (request.aspect_ratio, request.resolution) == ("1:1", "2K")
    assert (request.watermark, request.output_format, request.max_images) == (False, "jpeg", None)
    assert state.size == (2048, 2048) and 0 <= state.seed <= catalog.MAX_SEED


@pytest.mark.parametrize(
    ("body", "size"),
    [
        ({"sequential_image_generation": "auto"}, catalog.DEFAULT_GROUP_SIZE),
        (
            {
                "sequential_image_generation": "auto",
                "sequential_image_generation_options": {"max_images": 3},
            },
            3,
        ),
        ({"action": "group", "sequential_image_generation_options": {"max_images": 2}}, 2),
        ({"action": "group"}, catalog.DEFAULT_GROUP_SIZE),
    ],
)
def test_groups_are_asked_for_the_documented_ways(
    http: httpx.Client, simulator: SimulatorHandle, body: dict[str, Any], size: int
) -> None:
    response = post(http, model=M40, resolution="1K", **body)
    assert response.status_code == 200 and response.json()["action"] == "group"
    state = simulator.task(response.json()["task_id"])
    assert state is not None and state.request.max_images == size == state.image_count


def test_auto_does_not_combine_with_an_edit(http: httpx.Client) -> None:
    body = {"action": "edit", "image_urls": [png_uri()], "sequential_image_generation": "auto"}
    assert refused(post(http, model=M45, **body)).startswith("sequential_image_generation: ")


def test_5_0_lite_takes_an_output_format_and_4_5_none(http: httpx.Client) -> None:
    assert post(http, model=LITE, output_format="png").status_code == 200
    message = refused(post(http, model=M45, output_format="jpeg"))
    assert message.startswith("output_format: ") and LITE in message


# -- reference images ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "action", "count", "ok"),
    [
        (M45, "edit", 1, True),
        (M45, "edit", 2, False),
        (M40, "reference", 1, False),
        (M40, "reference", 2, True),
        (M40, "reference", 10, True),
        (M40, "reference", 11, False),
        (M45, "reference", 14, True),
        (M45, "generate", 15, False),
        (LITE, "image2image", 0, False),
        (LITE, "image2image", 14, True),
    ],
)
def test_reference_counts_per_model_and_action(
    http: httpx.Client, model: str, action: str, count: int, ok: bool
) -> None:
    body = {"model": model, "action": action, "image_urls": [png_uri()] * count}
    if model == M40:
        body["resolution"] = "1K"
    response = post(http, **body)
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert refused(response).startswith("image_urls: ")


def test_4_0_counts_references_plus_outputs(http: httpx.Client) -> None:
    body = {"model": M40, "resolution": "1K", "action": "reference"}
    assert post(http, image_urls=[png_uri()] * 10, n=5, **body).status_code == 200
    message = refused(post(http, image_urls=[png_uri()] * 10, n=6, **body))
    assert message.startswith("image_urls: ") and "15" in message


@pytest.mark.parametrize(
    ("uri", "needle"),
    [
        ("data:image/png,abc", "base64"),
        ("data:image/png;base64,%%%%", "base64"),
        ("data:image/gif;base64,R0lGODlh", "image/gif"),
        ("data:image/png;base64," + base64.b64encode(b"GIF89a" + bytes(64)).decode(), "JPEG"),
        (png_uri(fmt="JPEG", mime="image/png"), "declares"),
        (
            "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(40)).decode(),
            "",
        ),
        ("file:///etc/passwd", "neither"),
    ],
)
def test_data_uris_are_decoded_and_checked(http: httpx.Client, uri: str, needle: str) -> None:
    message = refused(post(http, model=M45, action="image2image", image_urls=[uri]))
    assert message.startswith("image_urls[0]: ") and needle in message


def test_valid_uploads_in_every_format_are_accepted(http: httpx.Client) -> None:
    urls = [
        png_uri(),
        png_uri(fmt="JPEG", mime="image/jpeg"),
        png_uri(fmt="JPEG", mime="image/jpg"),
        png_uri(fmt="WEBP", mime="image/webp"),
        png_uri(mime=""),  # no declared type: the bytes decide
        "https://example.com/cat.png",
    ]
    assert post(http, model=M45, action="reference", image_urls=urls).status_code == 200


def test_an_upload_over_30_mb_is_refused(http: httpx.Client, simulator: SimulatorHandle) -> None:
    big = b"\x89PNG\r\n\x1a\n" + bytes(catalog.MAX_INPUT_IMAGE_BYTES)
    uri = "data:image/png;base64," + base64.b64encode(big).decode()
    message = refused(post(http, model=M45, action="image2image", image_urls=[uri]))
    assert message.startswith("image_urls[0]: ") and "30 MB" in message


# -- upstream options ------------------------------------------------------------------------
def test_upstream_options_are_accepted_in_both_placements_and_kept(
    http: httpx.Client, simulator: SimulatorHandle
) -> None:
    body = {
        "model": LITE,
        "tools": [{"type": "web_search"}],
        "stream": False,
        "extra": {"optimize_prompt_options": {"mode": "fast"}, "brand_new": 1},
        "image_urls": [png_uri((600, 400))],
        "action": "image2image",
    }
    response = post(http, **body)
    assert response.status_code == 200, response.text
    assert set(response.json()) == {
        "task_id",
        "model",
        "action",
        "status",
        "created_at",
        "progress",
    }
    state = simulator.task(response.json()["task_id"])
    assert state is not None
    assert state.upstream == {
        "tools": UpstreamOption("tools", [{"type": "web_search"}], "top-level"),
        "stream": UpstreamOption("stream", False, "top-level"),
        "optimize_prompt_options": UpstreamOption(
            "optimize_prompt_options", {"mode": "fast"}, "extra"
        ),
        "brand_new": UpstreamOption("brand_new", 1, "extra"),
    }
    assert state.extra == {"optimize_prompt_options": {"mode": "fast"}, "brand_new": 1}
    assert state.body["tools"] == [{"type": "web_search"}] and state.body["prompt"] == "a heron"
    [kept] = state.body["image_urls"]
    assert kept.startswith("data:image/png;base64,") and kept.endswith(" chars>")
    assert "extra" not in wait_done(http, state.task_id)  # the wire stays the provider's


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"extra": {"seed": 7}}, "extra.seed"),
        ({"seed": 1, "extra": {"seed": 7}}, "extra.seed"),
        ({"extra": {"model": M40}}, "extra.model"),
        ({"extra": {"image_urls": []}}, "extra.image_urls"),
        ({"extra": "fast"}, "extra"),
        ({"stream": True, "extra": {"stream": False}}, "extra.stream"),
        ({"optimize_prompt_options": {"mode": "turbo"}}, "optimize_prompt_options.mode"),
        ({"extra": {"optimize_prompt_options": "fast"}}, "extra.optimize_prompt_options"),
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"model": LITE, "tools": [{"type": "code"}]}, "tools[0]"),
        ({"response_format": "xml"}, "response_format"),
        ({"extra": {"stream": "yes"}}, "extra.stream"),
    ],
)
def test_extra_never_overrides_a_checked_field_and_options_are_checked(
    http: httpx.Client, simulator: SimulatorHandle, body: dict[str, Any], field: str
) -> None:
    body = {"model": M45, **body}
    message = refused(post(http, **body))
    assert message.startswith(f"{field}: "), message
    assert simulator.task_ids() == []


def test_agreeing_placements_are_one_option(http: httpx.Client, simulator: SimulatorHandle) -> None:
    body = {"response_format": "url", "extra": {"response_format": "url"}}
    state = simulator.task(post(http, model=M45, **body).json()["task_id"])
    assert state is not None
    assert state.upstream == {
        "response_format": UpstreamOption("response_format", "url", "top-level")
    }
