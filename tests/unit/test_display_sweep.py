"""Sweep display pieces: failures counted from the snapshot, the live grid's table, and the
final bundle a saved notebook keeps."""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass
from typing import Any

from PIL import Image

from seedream_jupyter.api import JobState, plan_sweep
from seedream_jupyter.display import grid, progress, static, terminal
from seedream_jupyter.request import GenerationRequest


@dataclass
class FakeJob:
    request: GenerationRequest
    state: JobState = JobState.COMPLETED
    error: BaseException | None = None
    task_id: str | None = "task-1"
    progress: int = 100
    started_at: float = 0.0
    finished_at: float | None = 1.0
    from_cache: bool = False
    result: Any = None
    message: str | None = None
    simulated: bool = True

    def subscribe(self, fn: Any) -> None:
        fn(self)

    def cancel(self) -> str:
        return ""


def test_two_done_jobs_without_errors_are_not_failures() -> None:
    jobs = [FakeJob(GenerationRequest(prompt=p)) for p in ("one", "two")]
    assert [static.snapshot(j).error for j in jobs] == ["", ""]
    assert not any(static.snapshot(j).failed for j in jobs)
    text = progress._bundle("sweep of 2", jobs, time.time(), final=True)["text/plain"]
    assert text.startswith("sweep of 2: 2 of 2 done ·") and "failed" not in text.splitlines()[0]
    line = terminal.TerminalProgress("sweep of 2", stream=io.StringIO())
    line.jobs = list(jobs)
    assert "failed" not in line._line()
    jobs[1].state, jobs[1].error = JobState.FAILED, RuntimeError("boom")
    assert ", 1 failed" in progress._bundle("sweep of 2", jobs, time.time())["text/plain"]


def test_the_live_table_and_the_final_grid() -> None:
    plan = plan_sweep("a {animal} <b>", animal=["fox", "owl"], seed=[1, 2])
    layout = grid.layout_of(plan)
    jobs: list[Any] = [
        FakeJob(c.request, state=JobState.PROCESSING, finished_at=None, progress=40)
        for c in plan.combinations[:1]
    ]
    html = grid_html = grid.grid_html(layout, jobs, {}, title="sweep: 0 of 4 done")
    assert html.count("<tr>") == 3 and "fox" in html and "owl" in grid_html
    assert 'value="40"' in html and "waiting" in html and "<b>" not in html  # escaped
    sweep = layout  # an empty Sweep: the final bundle still names every combination
    bundle, metadata = grid.final_bundle(sweep)
    raw = base64.b64decode(bundle["image/jpeg"])
    assert Image.open(io.BytesIO(raw)).format == "JPEG" and "0 of 4" in bundle["text/plain"]
    assert metadata["image/jpeg"]["alt"] == bundle["text/plain"].splitlines()[0]  # alt text
