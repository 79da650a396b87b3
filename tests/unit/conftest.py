"""Fixtures for the unit tests: an isolated environment, real image bytes, and the one fake
QWave API: ``simulator.mock`` (the simulator's engine behind an ``httpx.MockTransport``, no
sockets). Helpers that tests import are in ``simtools.py``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from simtools import API_KEY, FAST, sim_client

from seedream_jupyter import simulator
from seedream_jupyter.client import Client, retry
from seedream_jupyter.simulator import MockSimulator

_ENV_VARS = (
    "WAVE_API_KEY",
    "WAVE_API_KEY_FILE",
    "SEEDREAM_BASE_URL",
    "SEEDREAM_SIMULATOR",
    "SEEDREAM_BUDGET_USD",
)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Any:
    """No key, no base URL, no simulator flag, no budget; SEEDREAM_HOME in a tmp dir."""
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "seedream-home"
    monkeypatch.setenv("SEEDREAM_HOME", str(home))
    return home


# -- real image bytes ----------------------------------------------------------------------

_IMAGE_CACHE: dict[tuple[int, int, str, int], bytes] = {}
_PALETTE = ((200, 60, 40), (40, 120, 200), (60, 170, 80), (230, 180, 40), (140, 70, 160))


def make_image_bytes(width: int, height: int, fmt: str = "jpeg", index: int = 0) -> bytes:
    """A real image file (JPEG/PNG/WEBP/GIF) of the given size; cached, cheap to reuse."""
    key = (width, height, fmt, index)
    if key not in _IMAGE_CACHE:
        from PIL import Image, ImageDraw

        colour = _PALETTE[index % len(_PALETTE)]
        img = Image.new("RGB", (width, height), colour)
        draw = ImageDraw.Draw(img)
        draw.rectangle((width // 4, height // 4, width * 3 // 4, height * 3 // 4), fill="white")
        buffer = io.BytesIO()
        save_format = {"jpg": "JPEG", "jpeg": "JPEG"}.get(fmt, fmt.upper())
        img.save(buffer, format=save_format)
        _IMAGE_CACHE[key] = buffer.getvalue()
    return _IMAGE_CACHE[key]


@pytest.fixture
def image_bytes() -> Callable[..., bytes]:
    """``image_bytes(w, h, fmt="jpeg", index=0)`` → real encoded image bytes."""
    return make_image_bytes


# -- the simulator -------------------------------------------------------------------------


@pytest.fixture
def make_sim() -> Iterator[Callable[..., MockSimulator]]:
    """``make_sim(**options)``: a ``simulator.mock`` with ``simtools.FAST`` (speed 1000,
    exact timing, images within 64 px, the test key) unless told otherwise; closed after."""
    made: list[MockSimulator] = []

    def make(**options: Any) -> MockSimulator:
        mocked = simulator.mock(**{**FAST, **options})
        made.append(mocked)
        return mocked

    yield make
    for mocked in made:
        mocked.close()


@pytest.fixture
def sim(make_sim: Callable[..., MockSimulator]) -> MockSimulator:
    """The unit tests' fake QWave API: the simulator behind an ``httpx.MockTransport``."""
    return make_sim()


@pytest.fixture
def client(sim: MockSimulator) -> Iterator[Client]:
    """A sync Client on ``sim`` (Bearer key, fast polling, 3 retries)."""
    c = sim_client(sim)
    yield c
    c.close()


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float | None]]:
    """Retries without waiting: the retry engine's ``delay`` returns 0 and records its
    arguments (tries so far, the server's Retry-After)."""
    calls: list[tuple[int, float | None]] = []

    def no_wait(tries: int, retry_after: float | None) -> float:
        calls.append((tries, retry_after))
        return 0.0

    monkeypatch.setattr(retry, "delay", no_wait)
    return calls


@pytest.fixture
def api_key() -> str:
    """The key ``sim`` checks and its clients send (a secret registered by config.resolve)."""
    return API_KEY
