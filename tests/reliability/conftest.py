"""The reliability suite: a fault matrix, a soak, kill -9 rounds, full / read-only / damaged
homes, a hostile server and bad inputs, all against the simulator over real sockets.

Every test isolates the environment (no key in it; ``SEEDREAM_HOME`` in a temporary folder)
and may add lines to ``figures``: they are printed in the run's summary, under "reliability
figures". Every test here is marked ``reliability`` (``-m "not reliability"`` leaves them out).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from seedream_jupyter import simulator as simulator_module
from seedream_jupyter.simulator import SimulatorHandle

StartSimulator = Callable[..., SimulatorHandle]
FIGURES: list[str] = []
_STARTED = time.monotonic()
_ENV = (
    "WAVE_API_KEY",
    "WAVE_API_KEY_FILE",
    "SEEDREAM_BASE_URL",
    "SEEDREAM_SIMULATOR",
    "SEEDREAM_BUDGET_USD",
    "SEEDREAM_HISTORY",
    "SEEDREAM_ALLOW_PRIVATE_URLS",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name == "reliability":
            item.add_marker("reliability")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for line in FIGURES:
        terminalreporter.write_line(line)
    terminalreporter.write_line(
        f"(first reliability test to summary: {time.monotonic() - _STARTED:.0f} s)"
    )


@pytest.fixture
def figures() -> list[str]:
    """Lines printed in the run's summary."""
    return FIGURES


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "home"
    monkeypatch.setenv("SEEDREAM_HOME", str(path))
    return path


@pytest.fixture
def start_simulator() -> Iterator[StartSimulator]:
    started: list[SimulatorHandle] = []

    def start(**options: Any) -> SimulatorHandle:
        options.setdefault("speed", 100.0)
        options.setdefault("jitter", 0)
        handle = simulator_module.start(**options)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()
