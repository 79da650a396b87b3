"""The quickstart notebook, executed headless, and ``%%seedream`` in a real kernel:
live progress over IOPub while the cell runs, and interrupting a queued task."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from seedream_jupyter import simulator

pytestmark = pytest.mark.notebook

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "01-quickstart.ipynb"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
Fn = Callable[..., Any]
KB = 1024
MAX_BYTES_PER_IMAGE = 60 * KB

CHECK_CELL = """
import json as _json
import seedream_jupyter as _sj
from PIL import Image as _Image
_report = {}
for _name in ("fox", "seasons", "heron", "painted", "lantern"):
    _value = globals()[_name]
    assert isinstance(_value, _sj.Result), (_name, type(_value))
    assert _value.images and all(isinstance(_i, _Image.Image) for _i in _value.images)
    _report[_name] = {"count": len(_value), "sizes": [list(_i.size) for _i in _value.images],
                      "simulated": _value.simulated, "task_id": _value.task_id}
print("REPORT" + _json.dumps(_report))
"""


def test_committed_notebook_has_no_outputs() -> None:
    nb = nbformat.read(QUICKSTART, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_quickstart_runs_top_to_bottom(
    tmp_path: Path, kernel_env: dict[str, str], sentinel_key: str, run_notebook: Fn
) -> None:
    nb = nbformat.read(QUICKSTART, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELL))
    started = time.monotonic()
    run_notebook(nb, tmp_path, kernel_env)
    elapsed = time.monotonic() - started

    check = nb.cells.pop()
    text = "".join(o.get("text", "") for o in check.outputs if o.output_type == "stream")
    report = json.loads(text[text.index("REPORT") + len("REPORT") :])
    assert report["fox"]["sizes"] == [[2560, 1440]]
    assert report["seasons"]["count"] == 3
    assert report["painted"]["sizes"] == [[2496, 1664]]
    assert report["heron"]["sizes"] == [[1728, 2304]]  # the heron is stored as a heron
    assert all(entry["simulated"] for entry in report.values())
    images = sum(entry["count"] for entry in report.values())

    views = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if WIDGET_MIME in output.get("data", {})
    ]
    assert len(views) == 4
    for view in views:
        assert "image/jpeg" in view["data"], "a view without its static image fallback"
        assert "SIMULATED" in view["data"]["text/plain"]
        assert "completed" in view["data"]["text/plain"]
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", output
    saved = tmp_path / "executed.ipynb"
    nbformat.write(nb, saved)
    size = saved.stat().st_size
    text = saved.read_text(encoding="utf-8")
    assert sentinel_key not in text
    assert "image/png" not in text  # no base64 PNG anywhere
    per_image = size / images
    print(
        f"\nquickstart: {elapsed:.1f} s, notebook {size / KB:.0f} KB for {images} images "
        f"= {per_image / KB:.1f} KB per 2K image"
    )
    assert per_image < MAX_BYTES_PER_IMAGE
    assert "widgets" not in nb.metadata  # store_widget_state=False: no widget state saved


def test_progress_reaches_iopub_before_the_execute_reply(
    start_kernel: Fn, execute: Fn, kernel_env: dict[str, str]
) -> None:
    # Polling keeps pace with the simulator's speed, so what gives several progress steps is a
    # long task: two 4K images process for ~16 s of simulated time (0.8 s at speed 20).
    _, kc = start_kernel(kernel_env)
    setup = execute(kc, "%load_ext seedream_jupyter")
    assert setup.reply and setup.reply["content"]["status"] == "ok"
    run = execute(kc, "%%seedream -n 2 -r 4K fox <<\na red fox in snow\n")
    assert run.reply is not None and run.reply["content"]["status"] == "ok", run.reply
    assert run.reply_at is not None
    states = run.comm_states()
    before = [(t, s) for t, s in states if t < run.reply_at]
    statuses = [s["status"] for _, s in before if "status" in s]
    # only changed traits travel, so a progress step is any update carrying 0 < progress < 100
    progress = {s["progress"] for _, s in before if 0 < s.get("progress", 0) < 100}
    assert "queued" in statuses and "processing" in statuses and "completed" in statuses
    assert len(progress) >= 2, f"progress values seen before the reply: {sorted(progress)}"
    # the kernel sent them while the cell was running, not at its end
    reply_date = run.reply["header"]["date"]
    comm_dates = [
        m["header"]["date"]
        for _, m in run.messages("comm_msg")
        if 0 < m["content"]["data"].get("state", {}).get("progress", 0) < 100
    ]
    assert comm_dates and max(comm_dates) < reply_date
    # spread over the task's processing (~0.8 s at speed 20), not one burst at the end
    assert (max(comm_dates) - min(comm_dates)).total_seconds() > 0.2
    first_live = min(t for t, s in states if s.get("status") in ("queued", "processing"))
    print(
        f"\nfirst progress update on IOPub {1000 * (first_live - run.sent_at):.0f} ms after the "
        f"execute_request; {len(before)} updates, progress {sorted(progress)} before the reply"
    )
    # a static fallback replaced the live view in place once the images were there
    updates = run.messages("update_display_data")
    assert updates and "image/jpeg" in updates[-1][1]["content"]["data"]
    check = execute(kc, "print(type(fox).__name__, len(fox.images), fox.images[0].size)")
    assert check.stdout().strip() == "Result 2 (4096, 4096)"


def test_interrupt_cancels_a_queued_task_and_the_kernel_lives_on(
    start_kernel: Fn,
    execute: Fn,
    collect: Fn,
    make_env: Fn,
    sentinel_key: str,
    tmp_path: Path,
) -> None:
    with simulator.start(speed=20, queue_seconds=60) as sim:
        env = make_env(tmp_path / "seedream-home")
        env.update(SEEDREAM_BASE_URL=sim.url, WAVE_API_KEY=sentinel_key)
        km, kc = start_kernel(env)
        assert execute(kc, "%load_ext seedream_jupyter").reply is not None

        def queued(run: Any) -> bool:
            return any(
                s.get("status") == "queued" and s.get("task_id") for _, s in run.comm_states()
            )

        run = execute(kc, "%%seedream slow <<\na very patient heron\n", until=queued, timeout=60)
        task_id = next(s["task_id"] for _, s in run.comm_states() if s.get("task_id"))
        assert sim.task(task_id) is not None
        km.interrupt_kernel()
        rest = collect(kc, run, timeout=60)
        assert rest.reply is not None
        assert rest.reply["content"]["status"] == "ok", rest.reply["content"]
        out = rest.stdout()
        lines = [line for line in out.splitlines() if line.startswith("Interrupted")]
        assert len(lines) == 1, out
        assert task_id in lines[0] and "cancelled" in lines[0] and "refunded" in lines[0]
        assert not rest.messages("error")
        state = sim.task(task_id)
        assert state is not None and str(state.status) == "cancelled"
        assert sim.stats.cancelled == 1
        after = execute(kc, "print(21 * 2, 'slow' in globals())")
        assert after.stdout().strip() == "42 False"
