"""Paid work is never lost and budgets hold, against the simulator over real sockets."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import seedream_jupyter as sj
from seedream_jupyter.api import resume
from seedream_jupyter.store import Store

KEY = "sk-nothing-lost-sentinel-0123456789"


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("WAVE_API_KEY", "WAVE_API_KEY_FILE", "SEEDREAM_SIMULATOR", "SEEDREAM_BUDGET_USD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path))
    return tmp_path


def _status(task_id: str) -> str | None:
    record = Store().get(task_id)
    return record.status if record is not None else None


@pytest.mark.parametrize("loop_outlives_the_job", [True, False])
def test_cancelling_an_awaited_generation_cancels_the_task_and_keeps_its_id(
    start_simulator: Any, caplog: pytest.LogCaptureFixture, loop_outlives_the_job: bool
) -> None:
    sim = start_simulator(queue_seconds=30)
    client = sj.Client(api_key=KEY, base_url=sim.url)

    def wait_until(done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 10
        while not done() and time.monotonic() < deadline:
            time.sleep(0.02)

    async def main() -> None:
        waiting = asyncio.ensure_future(sj.agenerate("slow queue", client=client))
        await asyncio.to_thread(wait_until, lambda: bool(sim.task_ids()))
        (task_id,) = sim.task_ids()
        await asyncio.to_thread(wait_until, lambda: _status(task_id) == "queued")  # recorded
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        if loop_outlives_the_job:  # the job's end reaches this loop, which nobody awaits
            await asyncio.to_thread(wait_until, lambda: _status(task_id) == "cancelled")
            await asyncio.sleep(0.1)
        # else: the loop closes before the job ends, and the end has nowhere to go

    asyncio.run(main())
    (task_id,) = sim.task_ids()
    wait_until(lambda: _status(task_id) == "cancelled")
    assert sim.stats.cancelled == 1  # the queued task was cancelled, not left to be billed
    assert _status(task_id) == "cancelled"
    time.sleep(0.1)
    gc.collect()
    # The job's end was dropped quietly: no "never retrieved", no failing callback.
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_one_failed_download_keeps_the_others_and_resume_fetches_the_rest(
    start_simulator: Any,
) -> None:
    sim = start_simulator(faults="drop@download#1")
    client = sj.Client(api_key=KEY, base_url=sim.url, max_retries=0)
    with pytest.raises(sj.ImageDownloadError) as info:
        sj.group("four seasons", max_images=4, client=client)
    record = Store().get(info.value.task_id or "")
    assert record is not None and record.status == "completed"
    assert sum(1 for image in record.images if image.path is not None) == 3  # saved at once
    sim.set_faults(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = resume(client=client)
    assert [r.task_id for r in done] == [record.task_id]
    assert len(done[0].images) == 4
    again = Store().get(record.task_id)
    assert again is not None and again.all_on_disk


@pytest.mark.parametrize("fault", ["drop@submit#1", "malformed@submit#1", "500@submit#1"])
def test_a_submit_whose_answer_was_lost_stays_in_history_and_counts(
    start_simulator: Any, fault: str
) -> None:
    sim = start_simulator(faults=fault)
    client = sj.Client(api_key=KEY, base_url=sim.url)
    request_cost = sj.GenerationRequest(prompt="dropped").estimate_cost()
    with pytest.raises(sj.SeedreamError, match="may exist") as info:
        sj.generate("dropped", client=client)
    assert info.value.maybe_submitted and sim.stats.submit_requests == 1  # not resent
    (record,) = Store().history()
    assert record.status == "unconfirmed" and record.task_id.startswith("intent-")
    assert "may be billed — check the provider's console" in (record.error_message or "")
    assert record.prompt == "dropped"
    spent = Store().spent_usd(simulated=record.simulated)
    assert spent == pytest.approx(request_cost)  # it counts toward the budget
