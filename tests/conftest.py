"""Suite-wide guards: every test stops the simulators it starts, and leaves the session's
settings and front-end as it found them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

SIMULATOR_THREAD = "seedream-simulator-"
_MARK_BY_FOLDER = {
    "unit": "unit",
    "integration": "integration",
    "reliability": "reliability",
    "browser": "browser",
    "notebooks": "notebook",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test is marked by its folder (tests/unit ``unit``, tests/integration
    ``integration``, tests/reliability ``reliability``, tests/browser ``browser``,
    tests/notebooks ``notebook``), whatever a file declares: ``-m unit`` is the fast subset,
    ``-m "not browser"`` everything that needs no browser."""
    for item in items:
        folder = item.path.parent.name
        if folder in _MARK_BY_FOLDER:
            item.add_marker(_MARK_BY_FOLDER[folder])


@pytest.fixture(autouse=True, scope="session")
def _no_simulator_left_running() -> Iterator[None]:
    yield
    from seedream_jupyter import simulator

    shared = simulator.running_shared()  # the embedded default lives until the process exits
    allowed = {f"{SIMULATOR_THREAD}{shared.port}"} if shared is not None else set()
    left = [
        t.name
        for t in threading.enumerate()
        if t.name.startswith(SIMULATOR_THREAD) and t.name not in allowed
    ]
    assert not left, f"tests left simulators running: {left}"


@pytest.fixture(autouse=True)
def _session_left_as_found() -> Iterator[None]:
    yield
    from seedream_jupyter.session import session

    session().reset()
    session().detect_frontend()
