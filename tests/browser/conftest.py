"""Real-browser fixtures: one Jupyter server and one Chromium for the whole session.

- ``slow_sim``: a simulator owned by the tests, every task queued for a minute, behind a
  sentinel API key, so a test can click Cancel while the task is still queued.
- ``slow_work_sim``: the same, but tasks start at once and process for ~30 s (kernel spec
  ``seedream-slow-work``), so a test can click "Stop waiting".
- The server enables the package's pre-save hook from ``jupyter-config/`` (as an install does).
- ``jupyter_server``: ``jupyter lab`` on 127.0.0.1 (a free port chosen by the server),
  no token, announcements disabled (``labconfig/page_config.json`` in a temporary
  ``JUPYTER_CONFIG_DIR``, ``news_url=None``, no update check), the app exposed as
  ``window.jupyterapp`` in JupyterLab *and* Notebook 7, a fresh runtime dir, a temporary
  copy of ``notebooks/`` as its root. Its kernels use the embedded simulator at speed 20;
  the kernel spec ``seedream-slow`` (used by ``02-panel-slow.ipynb``, a copy of
  ``02-panel.ipynb`` made here) points them at ``slow_sim`` instead.
- ``chromium``: Debian's Chromium driven by Playwright (``playwright install`` cannot
  download here).
- ``browse``: a fresh browser context per test, wrapped in ``Browse``: it aborts and
  records every request that would leave 127.0.0.1, collects console errors and dialogs,
  opens notebooks and runs cells through ``window.jupyterapp.commands`` (no simulated key
  presses for that), and writes screenshots to ``test-artifacts/``. Afterwards every
  kernel is shut down.

Everything started here is stopped in the fixtures' teardown, also when a test fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

import pytest
from jupyter_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SENTINEL_KEY,
    SIM_SPEED,
    Browse,
    JupyterServer,
    start_server,
)

try:  # the browser tests need Playwright; skip cleanly where it is not installed
    from playwright.sync_api import Browser, Playwright, sync_playwright
except ImportError:  # pragma: no cover
    sync_playwright = None  # type: ignore[assignment]

HERE = Path(__file__).resolve().parent
T = TypeVar("T")


class Lazy(Generic[T]):
    """A resource started on first ``get()`` and stopped by ``close()`` (idempotent).

    Playwright's sync API keeps an asyncio loop running in the main thread while it is
    open, so ``asyncio.run`` in any later test would fail: the browser (and the server)
    are therefore closed as soon as the last browser test is done, not at session end;
    a later browser test (unusual test orders) simply starts them again.
    """

    def __init__(self, start: Callable[[], T], stop: Callable[[T], None]) -> None:
        self._start, self._stop = start, stop
        self._value: T | None = None

    def get(self) -> T:
        if self._value is None:
            self._value = self._start()
        return self._value

    def close(self) -> None:
        value, self._value = self._value, None
        if value is not None:
            self._stop(value)


_RESOURCES: list[Lazy[Any]] = []  # closed in reverse order of creation


def _close_all() -> None:
    while _RESOURCES:
        with contextlib.suppress(Exception):
            _RESOURCES.pop().close()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After the last browser test in a row, stop the browser and the server."""
    if nextitem is None or HERE not in Path(nextitem.path).resolve().parents:
        _close_all()


# -- the simulator with a long queue -----------------------------------------------------------


@pytest.fixture(scope="session")
def slow_sim() -> Iterator[Any]:
    from seedream_jupyter import simulator

    handle = simulator.start(speed=float(SIM_SPEED), queue_seconds=60.0, api_key=SENTINEL_KEY)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def slow_work_sim() -> Iterator[Any]:
    """Tasks leave the queue at once and then process for ~30 s (speed 0.25)."""
    from seedream_jupyter import simulator

    handle = simulator.start(speed=0.25, queue_seconds=0.0, api_key=SENTINEL_KEY, jitter=0)
    try:
        yield handle
    finally:
        handle.stop()


# -- the Jupyter server -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def _server_pool(
    tmp_path_factory: pytest.TempPathFactory, slow_sim: Any, slow_work_sim: Any
) -> Iterator[Lazy[JupyterServer]]:
    pool = Lazy(
        lambda: start_server(tmp_path_factory.mktemp("jupyter"), slow_sim.url, slow_work_sim.url),
        JupyterServer.stop,
    )
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def jupyter_server(_server_pool: Lazy[JupyterServer]) -> JupyterServer:
    if _server_pool not in _RESOURCES:
        _RESOURCES.append(_server_pool)
    return _server_pool.get()


# -- the browser ------------------------------------------------------------------------------


def _launch() -> tuple[Playwright, Browser]:
    playwright: Playwright = sync_playwright().start()
    try:
        return playwright, playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except BaseException:
        playwright.stop()
        raise


def _shut(pair: tuple[Playwright, Browser]) -> None:
    playwright, browser = pair
    try:
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def _browser_pool() -> Iterator[Lazy[tuple[Playwright, Browser]]]:
    if sync_playwright is None:
        pytest.skip("playwright is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    pool = Lazy(_launch, _shut)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def chromium(_browser_pool: Lazy[tuple[Playwright, Browser]]) -> Browser:
    if _browser_pool not in _RESOURCES:
        _RESOURCES.append(_browser_pool)
    return _browser_pool.get()[1]


@pytest.fixture
def browse(
    chromium: Browser, jupyter_server: JupyterServer, request: pytest.FixtureRequest
) -> Iterator[Browse]:
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    session = Browse(jupyter_server, context, page, request.node.name)
    session.install()
    try:
        yield session
    finally:
        with contextlib.suppress(Exception):
            context.close()
        jupyter_server.shutdown_kernels()
