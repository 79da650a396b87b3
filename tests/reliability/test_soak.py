"""A soak: 200 tasks in one ``sj.batch`` with about 10 % of them hit by random faults, then
``sj.resume()`` once the faults stop. Every task must be accounted for — completed with its
images on disk, failed with a reason, or unconfirmed ("may be billed") with a reason — with
zero images lost, zero duplicate submits (simulator counters against history rows), no
outcome hidden behind another, and the key nowhere on disk.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

from reliability_tools import KEY, account, leaks

import seedream_jupyter as sj
from seedream_jupyter.api import resume
from seedream_jupyter.store import Store

TASKS = 200
# Per request; a task makes one submit, a few polls and one download, so about one task in
# ten meets at least one of these (the run prints the share it measured).
SOAK_FAULTS = ",".join(
    [
        "429@submit:0.01~0.01",
        "500@submit:0.005",
        "drop@submit:0.005",
        "malformed@submit:0.004",
        "nested@submit:0.003",
        "reuse:0.005",
        "fail:0.012",
        "zero:0.006",
        "surplus:0.006",
        "echokey:0.006",
        "expired:0.005",
        "private:0.004",
        "429@get:0.003~0.01",
        "500@get:0.003",
        "drop@get:0.002",
        "malformed@get:0.002",
        "wrongid:0.002",
        "truncate:0.008",
        "drop@download:0.005",
        "503@download:0.005~0",
        "bomb:0.005",
        "badimage:0.005",
    ]
)


def test_soak_200_tasks_with_random_faults(
    start_simulator: Any, home: Any, figures: list[str]
) -> None:
    sim = start_simulator(speed=100, faults=SOAK_FAULTS, fault_seed=1, capacity=32)
    client = sj.Client(api_key=KEY, base_url=sim.url)
    prompts = [f"soak task {i:03d}" for i in range(TASKS)]
    started = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = sj.batch(
            [{"prompt": p, "model": "4.0", "resolution": "1K"} for p in prompts],
            concurrency=16,
            timeout=60,
            client=client,
            confirm=True,  # a keyed client counts as billed until its server says otherwise
        )
    batch_seconds = time.monotonic() - started
    # every request has an outcome of its own: a Result or a failure (none collapsed)
    assert len(done) + len(done.failures) == TASKS
    touched = {r.json().get("prompt") for r in sim.requests if r.faults and r.scope == "submit"}
    touched |= _tasks_touched_after_submit(sim)
    sim.set_faults(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed = resume(client=client, timeout=60)
    books = account(sim, Store())
    assert books.clean, books.line() + f" lost={books.images_lost} unrecorded={books.unrecorded}"
    assert books.server_tasks == books.task_rows + books.intents_matched
    assert sim.stats.submits == books.server_tasks  # one server task per submit seen
    statuses = books.statuses
    assert set(statuses) <= {"completed", "failed", "unconfirmed"}, statuses  # none left pending
    assert leaks(home) == []
    share = len(touched - {None}) / TASKS
    figures.append(
        f"soak: {TASKS} tasks, {share:.0%} touched by a fault "
        f"({sum(sim.stats.faults.values())} faults: {dict(sorted(sim.stats.faults.items()))}); "
        f"batch {batch_seconds:.1f} s: {len(done)} results, {len(done.failures)} failures; "
        f"resume finished {len(resumed)} more"
    )
    figures.append(f"soak: {books.line()}")
    assert 0.05 <= share <= 0.25, share


def _tasks_touched_after_submit(sim: Any) -> set[str]:
    """Prompts of tasks a poll or download fault hit, or whose task fault was drawn."""
    prompts: set[str] = set()
    for task_id in sim.task_ids():
        state = sim.task(task_id)
        if state is not None and state.faults:
            prompts.add(state.body.get("prompt"))
    hit_ids = set()
    for request in sim.requests:
        if request.faults and request.scope in ("get", "download"):
            parts = request.path.strip("/").split("/")
            hit_ids.add(parts[2] if parts[0] == "v1" else parts[1])
    for task_id in hit_ids:
        state = sim.task(task_id)
        if state is not None:
            prompts.add(state.body.get("prompt"))
    return prompts
