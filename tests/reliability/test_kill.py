"""kill -9: a process running ``sj.batch`` is killed at random moments; ``sj.resume()`` then
runs in a new process. After every round: every task the server created is in the history (a
task row, or an unconfirmed intent for a submit whose answer never arrived), images on disk =
images the server returned, and no request was submitted twice.

One extra round kills the process while its POST is on the wire (the server has the request,
the client has no answer yet): the intent written before the POST must stand for the task.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from reliability_tools import KEY, account, leaks

from seedream_jupyter.store import UNCONFIRMED, Store

ROUNDS = 20
PER_ROUND = 10
ROOT = Path(__file__).resolve().parents[2]
BATCH = """
import sys, warnings
warnings.simplefilter("ignore")
import seedream_jupyter as sj
print("READY", flush=True)
sj.batch([{"prompt": p, "model": "4.0", "resolution": "1K"} for p in sys.argv[1:]],
         concurrency=6, timeout=60)
print("DONE", flush=True)
"""
RESUME = """
import warnings
warnings.simplefilter("ignore")
import seedream_jupyter as sj
print(sj.resume(timeout=60).summary(), flush=True)
"""


def _env(sim: Any, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAVE_", "SEEDREAM_"))}
    env |= {
        "WAVE_API_KEY": KEY,
        "SEEDREAM_BASE_URL": sim.url,
        "SEEDREAM_HOME": str(home),
        "PYTHONPATH": str(ROOT),
    }
    return env


def _start_batch(sim: Any, home: Path, prompts: list[str]) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", BATCH, *prompts],
        env=_env(sim, home),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "READY"
    return child


def _kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)


def _resume(sim: Any, home: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-c", RESUME],
        env=_env(sim, home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_kill_9_during_batch_then_resume_in_a_new_process(
    start_simulator: Any, home: Path, figures: list[str]
) -> None:
    # some submits answer late, so that kills also land while a POST is on the wire
    sim = start_simulator(speed=10, faults="slow@submit:0.3~0.4", fault_seed=3)
    rng = random.Random(20240612)
    kills: list[float] = []
    for round_number in range(ROUNDS):
        prompts = [f"kill round {round_number} item {i}" for i in range(PER_ROUND)]
        child = _start_batch(sim, home, prompts)
        delay = rng.uniform(0.0, 2.5)
        time.sleep(delay)
        finished = child.poll() is not None
        _kill(child)
        kills.append(delay if not finished else -1.0)
        summary = _resume(sim, home)
        books = account(sim, Store(home))
        assert books.clean, f"round {round_number}: {books.line()} ({summary})"
        assert books.server_tasks == books.task_rows + books.intents_matched, books.line()
        assert books.images_on_disk == books.images_returned, books.line()
    books = account(sim, Store(home))
    assert leaks(home) == []
    landed = sum(1 for k in kills if k >= 0)
    figures.append(
        f"kill -9: {ROUNDS} rounds x {PER_ROUND} tasks, {landed} kills mid-batch "
        f"(at 0–2.5 s): {books.line()}"
    )


def test_kill_9_while_the_submit_is_on_the_wire_leaves_an_intent(
    start_simulator: Any, home: Path, figures: list[str]
) -> None:
    sim = start_simulator(speed=10, faults="slow@submit~1.5")  # the server acts after 1.5 s
    child = _start_batch(sim, home, ["killed mid-POST"])
    deadline = time.monotonic() + 10
    while sim.stats.submit_requests == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sim.stats.submit_requests == 1  # the POST is on the wire ...
    _kill(child)  # ... and its sender dies before any answer
    while not sim.task_ids() and time.monotonic() < deadline:
        time.sleep(0.02)
    (task_id,) = sim.task_ids()  # the server created (and would bill) the task
    (record,) = Store(home).history()
    assert record.status == UNCONFIRMED and record.prompt == "killed mid-POST"
    assert "may be billed" in (record.error_message or "") and record.cost_usd > 0
    summary = _resume(sim, home)
    assert "1 unconfirmed submit(s) may be billed" in summary, summary
    assert Store(home).spent_usd(simulated=record.simulated) == record.cost_usd  # counted
    books = account(sim, Store(home))
    assert books.intents_matched == 1 and not books.unrecorded, books.line()
    figures.append(f"kill -9 mid-POST: server task {task_id} -> intent row ({summary})")
