"""Paid work is never lost and budgets hold, against the simulator over real sockets."""

from __future__ import annotations

import asyncio
import gc
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import seedream_jupyter as sj
from seedream_jupyter.archive import resume
from seedream_jupyter.store import Store

KEY = "sk-nothing-lost-sentinel-0123456789"


@pytest.fixture(autouse=True)
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("WAVE_API_KEY", "WAVE_API_KEY_FILE", "SEEDREAM_SIMULATOR", "SEEDREAM_BUDGET_USD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path))
    return tmp_path


def test_cancelling_an_awaited_generation_cancels_the_task_and_keeps_its_id(
    start_simulator: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sim = start_simulator(queue_seconds=30)
    client = sj.Client(api_key=KEY, base_url=sim.url)

    async def main() -> None:
        waiting = asyncio.ensure_future(sj.agenerate("slow queue", client=client))
        deadline = time.monotonic() + 10
        while not sim.task_ids() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # the id is back and recorded
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        deadline = time.monotonic() + 10
        while sim.stats.cancelled == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # the job's end reaches this loop's shielded future
        gc.collect()

    asyncio.run(main())
    gc.collect()
    assert "never retrieved" not in caplog.text  # the job's end was consumed, not logged
    (task_id,) = sim.task_ids()
    deadline = time.monotonic() + 10
    while sim.stats.cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sim.stats.cancelled == 1  # the queued task was cancelled, not left to be billed
    record = Store().get(task_id)
    assert record is not None and record.status == "cancelled"


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
