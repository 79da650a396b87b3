"""Bad inputs across the helpers, the magic and the panel: each is refused with the error class
expected, a message naming the field (or the option), and NOTHING reaching the simulator."""

from __future__ import annotations

import base64
import datetime
import io
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image
from reliability_tools import KEY, client_for

import seedream_jupyter as sj
from seedream_jupyter import magic
from seedream_jupyter.panel import Panel
from seedream_jupyter.panel.form import PanelForm
from seedream_jupyter.session import session
from seedream_jupyter.simulator import hostile

NOISE = random.Random(7).randbytes(4096).replace(b"\xff", b"\x00")


def _png(size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, random.Random(1).randbytes(size[0] * size[1] * 3)).save(
        buffer, format="PNG"
    )
    return buffer.getvalue()


PNG = _png()
PNG_CUT = PNG[:300]  # a PNG cut after 300 bytes
JPEG_NOISE = hostile.JPEG_HEADER + NOISE  # a JPEG header, then noise
PNG_URI_GARBAGE = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + NOISE).decode()
GIF = b"GIF89a" + b"\x01\x00\x01\x00\x80\x00\x00" + NOISE[:64]
BOMB = hostile.bomb_png()


def _pil(mode: str, values: Any) -> Image.Image:
    return Image.fromarray(np.asarray(values, dtype="float32" if mode == "F" else "int32"))


def _truncated_jpeg_file(tmp: Path) -> Image.Image:
    buffer = io.BytesIO()
    noise = random.Random(2).randbytes(256 * 256 * 3)
    Image.frombytes("RGB", (256, 256), noise).save(buffer, format="JPEG", quality=95)
    path = tmp / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) * 2 // 3])
    return Image.open(path)  # opened lazily: the truncation shows only on decoding


BAD_IMAGES: list[tuple[str, Callable[[Path], object]]] = [
    ("png-cut-at-300", lambda t: PNG_CUT),
    ("jpeg-header-noise", lambda t: JPEG_NOISE),
    ("data-uri-png-garbage", lambda t: PNG_URI_GARBAGE),
    ("data-uri-not-base64", lambda t: "data:image/png;base64,@@@@" + "A" * 40),
    ("data-uri-gif", lambda t: "data:image/gif;base64," + base64.b64encode(GIF).decode()),
    ("gif-bytes", lambda t: GIF),
    ("empty-bytes", lambda t: b""),
    ("text-bytes", lambda t: b"hello, not an image"),
    ("bomb-png", lambda t: BOMB),
    ("over-30-mb", lambda t: b"\x89PNG\r\n\x1a\n" + bytes(31 * 1024 * 1024)),
    ("no-such-file", lambda t: t / "missing.png"),
    ("a-directory", lambda t: t),
    ("nul-in-path", lambda t: "bad\x00name.png"),
    ("cut-file-on-disk", lambda t: (t / "cut.png").write_bytes(PNG_CUT) and t / "cut.png"),
    ("truncated-pil-file", _truncated_jpeg_file),
    ("pil-I-out-of-range", lambda t: _pil("I", [[0, 70000]])),
    ("pil-F-nan", lambda t: _pil("F", [[0.0, float("nan")]])),
    ("pil-F-inf", lambda t: _pil("F", [[0.0, float("inf")]])),
    ("pil-F-0-1000", lambda t: _pil("F", [[0.0, 1000.0]])),
    ("np-nan", lambda t: np.full((4, 4), np.nan)),
    ("np-inf", lambda t: np.full((4, 4, 3), np.inf)),
    ("np-minus-inf", lambda t: np.array([[0.0, -np.inf]])),
    ("np-int8-negative", lambda t: np.full((4, 4), -5, dtype=np.int8)),
    ("np-channels-first", lambda t: np.zeros((3, 16, 16), dtype=np.uint8)),
    ("np-batch-of-one", lambda t: np.zeros((1, 16, 16, 3), dtype=np.uint8)),
    ("np-4d", lambda t: np.zeros((2, 2, 2, 2), dtype=np.uint8)),
    ("np-1d", lambda t: np.zeros(16, dtype=np.uint8)),
    ("np-7-channels", lambda t: np.zeros((4, 4, 7), dtype=np.uint8)),
    ("np-complex", lambda t: np.zeros((4, 4), dtype=np.complex64)),
    ("np-object", lambda t: np.array([["a", "b"]], dtype=object)),
    ("np-float-minus1-1", lambda t: np.linspace(-1, 1, 16).reshape(4, 4)),
    ("np-float-0-1000", lambda t: np.linspace(0, 1000, 16).reshape(4, 4)),
    ("np-int32-300", lambda t: np.full((2, 2), 300, dtype=np.int32)),
    ("np-empty", lambda t: np.zeros((0, 3), dtype=np.uint8)),
    ("an-int", lambda t: 42),
    ("a-dict", lambda t: {"url": "https://example.com/a.png"}),
    ("ftp-url", lambda t: "ftp://example.com/a.png"),
    ("url-without-host", lambda t: "https:///a.png"),
]


@pytest.fixture
def sim(start_simulator: Any) -> Any:
    return start_simulator()


@pytest.fixture
def client(sim: Any) -> sj.Client:
    return client_for(sim)


def _refused(sim: Any, call: Callable[[], object], field: str) -> sj.ValidationError:
    with pytest.raises(sj.ValidationError) as info:
        call()
    assert info.value.field == field, info.value
    assert field in str(info.value)
    assert KEY not in str(info.value)
    assert sim.requests == []  # nothing reached the server
    return info.value


# -- helpers: images ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "make"), BAD_IMAGES, ids=[n for n, _ in BAD_IMAGES])
def test_a_bad_image_is_refused_before_sending(
    sim: Any, client: sj.Client, tmp_path: Path, name: str, make: Callable[[Path], object]
) -> None:
    image = make(tmp_path)
    error = _refused(sim, lambda: sj.image2image(image, "restyle it", client=client), "images[0]")
    assert error.allowed  # says what to pass instead


# -- helpers: every other argument -------------------------------------------------------------
HELPER_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("prompt-empty", "prompt", {"prompt": ""}),
    ("prompt-blank", "prompt", {"prompt": "   \n"}),
    ("prompt-none", "prompt", {"prompt": None}),
    ("prompt-int", "prompt", {"prompt": 42}),
    ("prompt-lone-surrogate", "prompt", {"prompt": "a fox \ud800 in snow"}),
    ("prompt-holds-the-key", "prompt", {"prompt": f"a sign reading {KEY}"}),
    ("model-unknown", "model", {"model": "5.1"}),
    ("model-other-vendor", "model", {"model": "dall-e-3"}),
    ("model-float", "model", {"model": 4.5}),
    ("n-zero", "n", {"n": 0}),
    ("n-sixteen", "n", {"n": 16}),
    ("n-negative", "n", {"n": -1}),
    ("n-string", "n", {"n": "2"}),
    ("n-float", "n", {"n": 2.5}),
    ("n-bool", "n", {"n": True}),
    ("seed-minus-2", "seed", {"seed": -2}),
    ("seed-too-big", "seed", {"seed": 2**31}),
    ("seed-string", "seed", {"seed": "7"}),
    ("seed-float", "seed", {"seed": 1.5}),
    ("seed-bool", "seed", {"seed": True}),
    ("ratio-unknown", "aspect_ratio", {"aspect_ratio": "5:4"}),
    ("ratio-slash", "aspect_ratio", {"aspect_ratio": "16/9"}),
    ("ratio-empty", "aspect_ratio", {"aspect_ratio": ""}),
    ("resolution-8k", "resolution", {"resolution": "8K"}),
    ("resolution-not-on-model", "resolution", {"model": "5.0-lite", "resolution": "1K"}),
    ("resolution-int", "resolution", {"resolution": 2}),
    ("watermark-string", "watermark", {"watermark": "yes"}),
    ("watermark-int", "watermark", {"watermark": 1}),
    ("format-gif", "output_format", {"model": "5.0-lite", "output_format": "gif"}),
    ("format-png-on-4.0", "output_format", {"model": "4.0", "output_format": "png"}),
    ("action-unknown", "action", {"action": "paint"}),
    ("action-edit-on-5.0", "action", {"model": "5.0-lite", "action": "edit"}),
    ("action-edit-no-image", "images", {"model": "4.0", "action": "edit"}),
    ("timeout-string", "timeout", {"timeout": "30"}),
    ("timeout-zero", "timeout", {"timeout": 0}),
    ("timeout-negative", "timeout", {"timeout": -1}),
    ("timeout-nan", "timeout", {"timeout": float("nan")}),
    ("timeout-bool", "timeout", {"timeout": True}),
    ("timeout-list", "timeout", {"timeout": [30]}),
    ("cache-string", "cache", {"cache": "no"}),
    ("cache-int", "cache", {"cache": 1}),
    ("callback-no-host", "callback_url", {"callback_url": "http://"}),
    ("callback-ftp", "callback_url", {"callback_url": "ftp://example.com/hook"}),
    ("callback-password", "callback_url", {"callback_url": "https://u:p@example.com/hook"}),
    ("callback-not-a-url", "callback_url", {"callback_url": "not a url"}),
    ("callback-space", "callback_url", {"callback_url": "https://exa mple.com/hook"}),
    ("callback-int", "callback_url", {"callback_url": 42}),
    ("unknown-keyword", "foo", {"foo": 1}),
]


@pytest.mark.parametrize(("name", "field", "kw"), HELPER_CASES, ids=[c[0] for c in HELPER_CASES])
def test_a_bad_helper_argument_is_refused_before_sending(
    sim: Any, client: sj.Client, name: str, field: str, kw: dict[str, Any]
) -> None:
    kw = dict(kw)
    prompt = kw.pop("prompt", "a red fox in snow")
    _refused(sim, lambda: sj.generate(prompt, client=client, **kw), field)


GROUP_AND_MANY: list[tuple[str, str, Callable[[sj.Client], object]]] = [
    ("group-zero", "max_images", lambda c: sj.group("x", max_images=0, client=c)),
    ("group-sixteen", "max_images", lambda c: sj.group("x", max_images=16, client=c)),
    ("reference-one-on-4.0", "images", lambda c: sj.reference([PNG], "x", model="4.0", client=c)),
    (
        "batch-concurrency-string",
        "concurrency",
        lambda c: sj.batch(["a"], concurrency="4", client=c),
    ),
    ("batch-concurrency-zero", "concurrency", lambda c: sj.batch(["a"], concurrency=0, client=c)),
    (
        "batch-concurrency-bool",
        "concurrency",
        lambda c: sj.batch(["a"], concurrency=True, client=c),
    ),
    ("batch-labels-short", "labels", lambda c: sj.batch(["a", "b", "c"], labels=["x"], client=c)),
    ("batch-item-int", "requests", lambda c: sj.batch(["a", 42], client=c)),
    ("batch-item-no-prompt", "prompt", lambda c: sj.batch([{"model": "4.5"}], client=c)),
    (
        "batch-late-bad-item",
        "n",
        lambda c: sj.batch(["a"] * 5 + [{"prompt": "b", "n": 99}], client=c),
    ),
    ("batch-timeout", "timeout", lambda c: sj.batch(["a"], timeout="30", client=c)),
    (
        "sweep-unmatched-brace",
        "template",
        lambda c: sj.sweep("a {animal", animal=["fox"], client=c),
    ),
    ("sweep-positional", "template", lambda c: sj.sweep("a {0}", animal=["fox"], client=c)),
    (
        "sweep-unknown-axis",  # an axis that is neither a request field nor in the template
        "style",
        lambda c: sj.sweep("a {animal}", style=["ink"], client=c),
    ),
    (
        "sweep-missing-axis",
        "template",
        lambda c: sj.sweep("a {animal} in {style}", style=["ink"], client=c),
    ),
    # one bad combination: the sweep lists it and refuses all (skip_invalid=True skips it)
    ("sweep-bad-axis-value", "combinations", lambda c: sj.sweep("a fox", seed=[1, "x"], client=c)),
]


@pytest.mark.parametrize(
    ("name", "field", "call"), GROUP_AND_MANY, ids=[c[0] for c in GROUP_AND_MANY]
)
def test_bad_group_batch_and_sweep_arguments_pay_nothing(
    sim: Any, client: sj.Client, name: str, field: str, call: Callable[[sj.Client], object]
) -> None:
    _refused(sim, lambda: call(client), field)


# -- the magic ---------------------------------------------------------------------------------
@pytest.fixture
def shell(client: sj.Client, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    monkeypatch.setattr(session(), "client", lambda: client)
    ip = InteractiveShell.instance()
    magic.load_ipython_extension(ip)
    ip.user_ns.update(
        fox="a fox", key=KEY, env=dict(os.environ), broken=PNG_CUT, noise=np.full((4, 4), np.nan)
    )
    yield ip
    for name in ("fox", "key", "env", "broken", "noise"):
        ip.user_ns.pop(name, None)
    magic.unload_ipython_extension(ip)


MAGIC_CASES: list[tuple[str, str, str, str]] = [
    ("n-zero", "-n 0", "a fox", "n must be between"),
    ("n-huge", "-n 99", "a fox", "n must be between"),
    ("n-word", "-n two", "a fox", "n must be a whole number"),
    ("seed-word", "-s abc", "a fox", "seed must be a whole number"),
    ("seed-too-big", "-s 99999999999", "a fox", "use -1 (random)"),
    ("model-unknown", "-m 9.9", "a fox", "model"),
    ("ratio-unknown", "-a 5:4", "a fox", "aspect_ratio"),
    ("resolution-unknown", "-r 9K", "a fox", "resolution"),
    ("timeout-negative", "--timeout -5", "a fox", "timeout"),
    ("timeout-word", "--timeout soon", "a fox", "timeout"),
    ("group-zero", "-g 0", "a fox", "group size"),
    ("group-with-n", "-g 3 -n 2", "a fox", "-g N already says"),
    ("image-missing", "-i nowhere.png", "a fox", "-i nowhere.png"),
    ("image-corrupt-variable", "-i broken", "a fox", "images[0]"),
    ("image-nan-array", "-i noise", "a fox", "NaN"),
    ("unknown-option", "--colour red", "a fox", "unknown option"),
    ("empty-cell", "", "   ", "the cell is empty"),
    ("environ", "", "a sign saying {os.environ}", "reads the environment"),
    ("environ-item", "", "a sign saying {os.environ[WAVE_API_KEY]}", "reads the environment"),
    ("env-copy", "", "a sign saying {env}", "reads the environment"),
    ("the-key", "", "a sign saying {key}", "API key"),
    ("missing-variable", "", "a {wolf} in snow", "no variable 'wolf'"),
    ("positional-field", "", "a {0} in snow", "without a variable name"),
    ("unmatched-brace", "", "a {fox in snow", "unmatched brace"),
    ("lone-surrogate", "", "a fox \ud800 in snow", "prompt"),
]


@pytest.mark.parametrize(
    ("name", "line", "cell", "says"), MAGIC_CASES, ids=[c[0] for c in MAGIC_CASES]
)
def test_a_bad_magic_cell_is_one_line_and_sends_nothing(
    sim: Any, shell: InteractiveShell, name: str, line: str, cell: str, says: str
) -> None:
    if "{os." in cell:
        shell.run_cell("import os")
    with pytest.raises(UsageError) as info:
        shell.run_cell_magic("seedream", line, cell)
    assert says in str(info.value), info.value
    assert KEY not in str(info.value)
    assert sim.requests == []


# -- the panel ---------------------------------------------------------------------------------
def _upload(name: str, data: bytes) -> dict[str, Any]:
    return {
        "name": name,
        "type": "application/octet-stream",
        "size": len(data),
        "content": memoryview(data),
        "last_modified": datetime.datetime.now(datetime.timezone.utc),
    }


UPLOADS = [
    ("png-cut-at-300", PNG_CUT),
    ("jpeg-header-noise", JPEG_NOISE),
    ("gif", GIF),
    ("text", b"not an image at all"),
    ("empty", b""),
    ("bomb", BOMB),
]


@pytest.mark.parametrize(("name", "data"), UPLOADS, ids=[n for n, _ in UPLOADS])
def test_a_bad_upload_in_the_panel_is_refused(
    sim: Any, client: sj.Client, name: str, data: bytes
) -> None:
    panel = Panel("fuse these", model="4.5", client=client)
    panel.form.upload.value = (_upload(f"{name}.png", data),)
    assert panel.form.references == []
    assert f"{name}.png" in panel.form.reference_message.value
    panel.form.action.value = "image2image"
    assert panel.generate() is None  # no reference image: nothing to send
    assert "Not sent — images" in panel.message.value
    assert sim.requests == []


PANEL_FIELDS: list[tuple[str, Callable[[PanelForm], None], str]] = [
    ("prompt-empty", lambda f: setattr(f.prompt, "value", ""), "prompt"),
    ("prompt-surrogate", lambda f: setattr(f.prompt, "value", "a fox \ud800"), "prompt"),
    ("prompt-key", lambda f: setattr(f.prompt, "value", f"print {KEY}"), "prompt"),
    ("edit-without-image", lambda f: setattr(f.action, "value", "edit"), "images"),
]


@pytest.mark.parametrize(
    ("name", "change", "field"), PANEL_FIELDS, ids=[c[0] for c in PANEL_FIELDS]
)
def test_a_bad_panel_form_sends_nothing(
    sim: Any, client: sj.Client, name: str, change: Callable[[PanelForm], None], field: str
) -> None:
    panel = Panel("a red fox", model="4.0", client=client)
    change(panel.form)
    assert panel.generate() is None
    assert f"Not sent — {field}" in panel.message.value
    assert KEY not in panel.message.value
    assert sim.requests == []


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "javascript:alert(1)", "http://"])
def test_a_bad_reference_url_in_the_panel_is_refused(sim: Any, client: sj.Client, url: str) -> None:
    form = Panel("x", model="4.5", client=client).form
    form.url.value = url
    form.add_url_reference()
    assert form.references == [] and form.reference_message.value
    assert sim.requests == []
