"""Fixtures for running notebooks and kernels headless against the simulator.

- ``kernel_env``: the environment for a kernel: SEEDREAM_HOME in a temporary folder, the
  simulator forced (``SEEDREAM_SIMULATOR=1``) although ``WAVE_API_KEY`` is set to a sentinel
  (so tests can prove the key never reaches an output), ``SEEDREAM_SIM_SPEED=20``.
- ``start_kernel``: starts an ipykernel with an environment and returns (manager, client);
  everything it started is shut down afterwards.
- ``execute`` / ``collect``: run code and record every IOPub message and the execute_reply
  with the time each arrived, so tests can tell what arrived while the cell was still running.
- ``make_env``: ``make_env(home)`` -> a clean kernel environment without key or simulator flag.

Helpers are handed out as fixtures (tests directories are not packages here).
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client import BlockingKernelClient, KernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
SENTINEL_KEY = "sk-sentinel-NEVER-SHOW-0123456789"

StartKernel = Callable[..., tuple[KernelManager, BlockingKernelClient]]


def base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEEDREAM_", "WAVE_"))}
    env["SEEDREAM_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


@pytest.fixture
def kernel_env(tmp_path: Path) -> dict[str, str]:
    env = base_env(tmp_path / "seedream-home")
    env.update(
        WAVE_API_KEY=SENTINEL_KEY,
        SEEDREAM_SIMULATOR="1",
        SEEDREAM_SIM_SPEED="20",
    )
    return env


@pytest.fixture
def start_kernel(tmp_path: Path) -> Iterator[StartKernel]:
    started: list[tuple[KernelManager, BlockingKernelClient]] = []

    def start(
        env: dict[str, str], cwd: Path | None = None
    ) -> tuple[KernelManager, BlockingKernelClient]:
        km = KernelManager(kernel_name="python3")
        km.start_kernel(env=env, cwd=str(cwd or tmp_path))
        kc = km.client()
        kc.start_channels()
        started.append((km, kc))
        kc.wait_for_ready(timeout=60)
        return km, kc

    yield start
    for km, kc in started:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


@dataclass
class Run:
    """What one execute_request produced, each message with its arrival time (monotonic)."""

    msg_id: str
    sent_at: float
    iopub: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    reply_at: float | None = None

    def messages(self, msg_type: str) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, m in self.iopub if m["header"]["msg_type"] == msg_type]

    def stdout(self) -> str:
        return "".join(
            m["content"]["text"]
            for _, m in self.messages("stream")
            if m["content"]["name"] == "stdout"
        )

    def comm_states(self) -> list[tuple[float, dict[str, Any]]]:
        """The state of every widget ``update`` message, with its arrival time."""
        found = []
        for t, m in self.messages("comm_msg"):
            data = m["content"].get("data", {})
            if data.get("method") == "update":
                found.append((t, data.get("state", {})))
        return found


def collect(
    kc: BlockingKernelClient,
    run: Run,
    *,
    timeout: float = 120.0,
    until: Callable[[Run], bool] | None = None,
) -> Run:
    """Record IOPub + the reply of ``run`` until the kernel is idle (or ``until(run)``)."""
    deadline = time.monotonic() + timeout
    idle = any(
        m["header"]["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
        for _, m in run.iopub
        if m["parent_header"].get("msg_id") == run.msg_id
    )
    while time.monotonic() < deadline:
        if until is not None and until(run):
            return run
        progressed = False
        try:
            msg = kc.get_iopub_msg(timeout=0.01)
        except queue.Empty:
            pass
        else:
            progressed = True
            mine = msg["parent_header"].get("msg_id") == run.msg_id
            if mine or msg["header"]["msg_type"] in ("comm_msg", "comm_open"):
                run.iopub.append((time.monotonic(), msg))
            if (
                mine
                and msg["header"]["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                idle = True
        if run.reply is None:
            try:
                reply = kc.get_shell_msg(timeout=0.0 if progressed else 0.01)
            except queue.Empty:
                pass
            else:
                if reply["parent_header"].get("msg_id") == run.msg_id:
                    run.reply, run.reply_at = reply, time.monotonic()
        if idle and run.reply is not None:
            return run
    raise AssertionError(f"no reply and idle within {timeout} s")


def execute_code(
    kc: BlockingKernelClient,
    code: str,
    *,
    timeout: float = 120.0,
    until: Callable[[Run], bool] | None = None,
) -> Run:
    """Send ``code`` and collect what it produces (see ``collect``)."""
    msg_id = kc.execute(code)
    run = Run(msg_id=msg_id, sent_at=time.monotonic())
    return collect(kc, run, timeout=timeout, until=until)


@pytest.fixture
def execute() -> Callable[..., Run]:
    return execute_code


@pytest.fixture(name="collect")
def collect_fixture() -> Callable[..., Run]:
    return collect


@pytest.fixture
def make_env() -> Callable[[Path], dict[str, str]]:
    return base_env


@pytest.fixture
def sentinel_key() -> str:
    return SENTINEL_KEY


def execute_notebook(nb: nbformat.NotebookNode, cwd: Path, env: dict[str, str]) -> None:
    """Run ``nb`` in place, headless, as a saved notebook would be (no widget state)."""
    client = NotebookClient(
        nb,
        timeout=180,
        kernel_name="python3",
        store_widget_state=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute(env=env, cwd=str(cwd))


@pytest.fixture
def run_notebook() -> Callable[[nbformat.NotebookNode, Path, dict[str, str]], None]:
    return execute_notebook
