"""``sj.generate`` / ``sj.batch`` in a kernel show live progress in their own cell."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Fn = Callable[..., Any]


def test_generate_shows_live_progress_in_its_cell(
    start_kernel: Fn, execute: Fn, kernel_env: dict[str, str]
) -> None:
    _, kc = start_kernel(kernel_env)
    run = execute(
        kc, "import seedream_jupyter as sj\nres = sj.generate('a fox', n=2, resolution='4K')"
    )
    assert run.reply is not None and run.reply["content"]["status"] == "ok", run.reply
    shown = run.messages("display_data")
    updates = run.messages("update_display_data")
    assert len(shown) == 1 and updates, "one progress block, updated in place"
    display_id = shown[0][1]["content"]["transient"]["display_id"]
    assert all(m["content"]["transient"]["display_id"] == display_id for _, m in updates)
    texts = [m["content"]["data"]["text/plain"] for _, m in updates]
    assert any("processing" in text for text in texts[:-1])  # live, before the end
    final = updates[-1][1]["content"]["data"]
    assert "completed" in final["text/plain"] and "SIMULATED" in final["text/plain"]
    assert "<progress" in final["text/html"]
    # every update belongs to this cell: the kernel sent it before the cell's reply
    reply_date = run.reply["header"]["date"]
    assert all(m["header"]["date"] <= reply_date for _, m in updates)
    # live, not one burst at the end: processing was seen well before completion
    processing = [
        m["header"]["date"]
        for _, m in updates
        if "processing" in m["content"]["data"]["text/plain"]
    ]
    assert processing and (updates[-1][1]["header"]["date"] - processing[0]).total_seconds() > 0.2


def test_batch_shows_one_block_for_all_jobs(
    start_kernel: Fn, execute: Fn, kernel_env: dict[str, str]
) -> None:
    _, kc = start_kernel(kernel_env)
    code = "import seedream_jupyter as sj\nrs = sj.batch(['a fox', 'an owl', 'a heron'])"
    run = execute(kc, code)
    assert run.reply is not None and run.reply["content"]["status"] == "ok", run.reply
    assert len(run.messages("display_data")) == 1
    final = run.messages("update_display_data")[-1][1]["content"]["data"]
    assert final["text/plain"].startswith("batch of 3: 3 of 3 done")
    assert final["text/html"].count("<progress") == 3
