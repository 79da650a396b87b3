"""A blocking ``%%seedream`` cell in a real kernel: it awaits its job, so an interrupt during
processing stops the wait (one line) while the task goes on and fills its variable."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from seedream_jupyter import simulator

pytestmark = pytest.mark.notebook
Fn = Callable[..., Any]


def test_the_cell_awaits_and_an_interrupt_while_processing_lets_the_task_finish(
    start_kernel: Fn, execute: Fn, collect: Fn, make_env: Fn, sentinel_key: str, tmp_path: Path
) -> None:
    with simulator.start(speed=0.5, queue_seconds=0, jitter=0) as sim:
        env = make_env(tmp_path / "seedream-home")
        env.update(SEEDREAM_BASE_URL=sim.url, WAVE_API_KEY=sentinel_key)
        km, kc = start_kernel(env)
        assert execute(kc, "%load_ext seedream_jupyter").reply is not None
        shown = execute(kc, "print(get_ipython().transform_cell('%%seedream\\nx'))")
        assert shown.stdout().startswith("await "), shown.stdout()  # the cell awaits its job

        def processing(run: Any) -> bool:
            return any(s.get("status") == "processing" for _, s in run.comm_states())

        run = execute(kc, "%%seedream -r 4K later <<\na slow heron\n", until=processing, timeout=60)
        task_id = next(s["task_id"] for _, s in run.comm_states() if s.get("task_id"))
        started = time.monotonic()
        km.interrupt_kernel()
        rest = collect(kc, run, timeout=30)
        assert time.monotonic() - started < 5, "the interrupt waited for the task"
        assert rest.reply is not None and rest.reply["content"]["status"] == "ok"
        lines = [line for line in rest.stdout().splitlines() if "Stopped waiting" in line]
        assert len(lines) == 1 and lines[0].startswith("Interrupted."), rest.stdout()
        assert task_id in lines[0] and "later holds its Result" in lines[0]
        assert not rest.messages("error")
        # the task went on: the variable is set once it completes, and the kernel is free
        deadline = time.monotonic() + 90
        while True:
            check = execute(kc, "print('later' in globals() and later.task_id)")
            if check.stdout().strip() == task_id:
                break
            assert time.monotonic() < deadline, "the task never filled its variable"
            time.sleep(1)
        assert str(sim.task(task_id).status) == "completed"
        assert sim.stats.cancels == 0  # a started task is not "cancelled"
