"""``python -m seedream_jupyter.simulator`` and the process-wide ``shared()`` simulator."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from seedream_jupyter.simulator import FAULTS

MODULE = [sys.executable, "-m", "seedream_jupyter.simulator"]
OPTIONS = [
    "--host",
    "--port",
    "--speed",
    "--faults",
    "--fault-seed",
    "--api-key",
    "--url-ttl",
    "--queue-seconds",
    "--sync-timeout",
    "--jitter",
    "--timing-seed",
    "--capacity",
    "--wire",
    "--verbose",
]


def test_help_documents_every_option_and_every_fault() -> None:
    result = subprocess.run([*MODULE, "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    for option in OPTIONS:
        assert option in result.stdout, option
    for name, kind in FAULTS.items():
        assert f"  {name} " in result.stdout, name
        assert kind.help.split()[0] in result.stdout
    assert "ITEM  := NAME" in result.stdout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--faults", "teapot:1"], "unknown fault 'teapot'"),
        (["--wire", "oldest"], "wire must be"),
        (["--capacity", "-1"], "must be >= 1"),
        (["--jitter", "-0.1"], "must be >= 0"),
    ],
)
def test_bad_options_are_refused(args: list[str], reason: str) -> None:
    result = subprocess.run([*MODULE, *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert reason in result.stderr


def test_timing_capacity_and_wire_options_reach_the_server() -> None:
    options = ["--speed", "50", "--jitter", "0", "--capacity", "none", "--wire", "envelope"]
    process = subprocess.Popen(
        [*MODULE, "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        info = httpx.get(f"{url}/health", timeout=10).json()
        assert info["wire"] == "envelope" and info["capacity"] is None
        payload = {"model": "doubao-seedream-4.0", "prompt": "enveloped", "resolution": "1K"}
        answer = httpx.post(f"{url}/v1/tasks", json=payload, timeout=10).json()
        assert answer["code"] == "success" and answer["data"].startswith("task-wave")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert process.returncode == 0


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        [*MODULE, "--port", "0", "--speed", "50", "--faults", "500@cancel", "--api-key", "k-123"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=10)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_server_prints_its_url_serves_and_stops_on_signal(
    served: tuple[subprocess.Popen[str], str], sig: signal.Signals
) -> None:
    process, url = served
    assert url.startswith("http://127.0.0.1:")
    info = httpx.get(f"{url}/health", timeout=10).json()
    assert info["simulator"] is True and info["faults"] == "500@cancel:1" and info["auth"]
    headers = {"Authorization": "Bearer k-123"}
    payload = {
        "model": "doubao-seedream-4.0",
        "prompt": "from the command line",
        "resolution": "1K",
    }
    response = httpx.post(f"{url}/v1/tasks/sync", json=payload, headers=headers, timeout=10)
    assert response.json()["status"] == "completed"
    assert httpx.post(f"{url}/v1/tasks", json=payload).status_code == 401
    process.send_signal(sig)
    assert process.wait(timeout=10) == 0
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


SHARED = """
import atexit, json, threading
from seedream_jupyter import simulator
handles = []
threads = [threading.Thread(target=lambda: handles.append(simulator.shared())) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
first = handles[0]
print(json.dumps({"same": all(h is first for h in handles), "speed": first.speed,
                  "url": first.url, "again": simulator.shared() is first}))
atexit._run_exitfuncs()
print(json.dumps({"stopped_at_exit": not first.running}))
"""


def test_shared_is_started_once_with_the_env_speed_and_stopped_at_exit() -> None:
    env = {**os.environ, "SEEDREAM_SIM_SPEED": "7.5"}
    result = subprocess.run(
        [sys.executable, "-c", SHARED], capture_output=True, text=True, env=env, timeout=30
    )
    assert result.returncode == 0, result.stderr
    data, after = (json.loads(line) for line in result.stdout.splitlines())
    assert after == {"stopped_at_exit": True}
    assert data["same"] and data["again"] and data["speed"] == 7.5
    assert data["url"].startswith("http://127.0.0.1:")
    port = int(data["url"].rsplit(":", 1)[1])
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_shared_restarts_after_a_stop() -> None:
    code = (
        "from seedream_jupyter import simulator as s\n"
        "a = s.shared(); a.stop(); b = s.shared()\n"
        "print(a is not b and b.running and not a.running)"
    )
    env = {k: v for k, v in os.environ.items() if k != "SEEDREAM_SIM_SPEED"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30
    )
    assert result.stdout.strip() == "True", result.stderr
