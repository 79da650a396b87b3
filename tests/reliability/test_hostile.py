"""A server that should not be trusted: ids meant to escape the URL path, waits meant never to
end, bodies meant to exhaust memory or the parser, answers that name the wrong task, text that
echoes the key back, images that are bombs or garbage, counts that do not match the request.
Each test names the issue-12 example it holds to.
"""

from __future__ import annotations

import json
import resource
import time
import warnings
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from reliability_tools import KEY, client_for, leaks

import seedream_jupyter as sj
from seedream_jupyter import magic
from seedream_jupyter.api import resume
from seedream_jupyter.client.aclient import DEFAULT_MAX_IMAGE_BYTES
from seedream_jupyter.errors import ImageRefusedError
from seedream_jupyter.session import session
from seedream_jupyter.store import Store

ONE_K = {"model": "4.0", "resolution": "1K"}


# -- task ids never leave their URL segment ---------------------------------------------------
@pytest.mark.parametrize(
    ("call", "task_id"),
    [
        ("get", "../../admin/keys"),
        ("cancel", "x?admin=1#"),
        ("wait", "a/b"),
        ("get", ".."),
        ("get", ""),
        ("get", "%2e%2e%2fadmin"),
        ("cancel", "task\r\nX-Injected: 1"),
        ("get", "x" * 500),
    ],
)
def test_task_ids_are_validated_before_they_enter_a_url(
    start_simulator: Any, call: str, task_id: str
) -> None:
    sim = start_simulator()
    client = client_for(sim)
    with pytest.raises(sj.ValidationError) as info:
        getattr(client, call)(task_id)
    assert info.value.field == "task_id"
    assert sim.requests == []  # nothing sent, and so no key sent anywhere


# -- waits that never end ---------------------------------------------------------------------
def test_a_retry_after_of_a_billion_seconds_raises_at_once(start_simulator: Any) -> None:
    sim = start_simulator(faults="429@submit~1000000000")
    client = client_for(sim)
    started = time.monotonic()
    with pytest.raises(sj.RateLimitError, match="not waiting that long"):
        sj.generate("rate limited for ever", client=client, timeout=600, **ONE_K)
    assert time.monotonic() - started < 2 and sim.stats.submit_requests == 1
    assert Store().history() == []  # a 429 was not accepted: nothing to account for


@pytest.mark.parametrize("scope", ["submit", "download"])
def test_headers_sent_one_byte_a_second_are_bounded_by_timeout(
    start_simulator: Any, scope: str
) -> None:
    sim = start_simulator(faults=f"slowheaders@{scope}~1")
    client = client_for(sim)
    started = time.monotonic()
    with pytest.raises(sj.SeedreamError) as info:
        sj.generate(f"slow headers on {scope}", client=client, timeout=2.5, **ONE_K)
    assert time.monotonic() - started < 3.5
    (record,) = Store().history()
    if scope == "submit":  # the task exists: the intent stands for it, counted
        assert info.value.maybe_submitted and record.status == "unconfirmed"
    else:  # completed on the server: kept, and resume fetches it later
        assert isinstance(info.value, sj.ImageDownloadError) and record.status == "completed"
        sim.set_faults(None)
        assert [r.task_id for r in resume(client=client)] == [record.task_id]


def test_an_endless_body_is_cut_at_the_size_cap(start_simulator: Any) -> None:
    sim = start_simulator(faults="endless")
    client = client_for(sim, max_image_bytes=16 * 2**20)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(sj.ImageDownloadError, match="larger than 16 MB") as info:
        sj.generate("an endless image", client=client, timeout=30, **ONE_K)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert time.monotonic() - started < 10 and grown_mb < 120, grown_mb
    assert info.value.task_id == Store().history()[0].task_id
    # the default cap is far above any real image (a 4K PNG is under 60 MB), far below 2 GB
    assert 128e6 <= DEFAULT_MAX_IMAGE_BYTES <= 512e6


@pytest.mark.parametrize("scope", ["submit", "get"])
def test_json_nested_200000_deep_is_a_clear_error(start_simulator: Any, scope: str) -> None:
    sim = start_simulator(faults=f"nested@{scope}")
    client = client_for(sim, max_retries=1)
    with pytest.raises(sj.APIError, match="not valid JSON") as info:
        sj.generate(f"nested on {scope}", client=client, **ONE_K)
    assert not isinstance(info.value.__cause__, RecursionError)
    (record,) = Store().history()
    assert record.status == ("unconfirmed" if scope == "submit" else "queued")


# -- answers about the wrong task --------------------------------------------------------------
def test_a_reused_task_id_never_overwrites_the_first_task(start_simulator: Any) -> None:
    sim = start_simulator()
    first = sj.generate("the first task", client=client_for(sim), **ONE_K)
    before = Store().get(first.task_id)
    sim.set_faults("reuse")
    with pytest.raises(sj.APIError, match="earlier submit already received") as info:
        sj.generate("the second task", client=client_for(sim), **ONE_K)  # a fresh client too
    assert info.value.maybe_submitted
    after = Store().get(first.task_id)
    assert after == before and after is not None and after.all_on_disk  # rows untouched
    (second,) = Store().history(status="unconfirmed")
    assert second.prompt == "the second task" and "reused task id" in (second.warning or "")
    assert len(sim.task_ids()) == 2  # and the server's second task is the intent


def test_a_poll_about_another_task_is_not_filed_under_it(start_simulator: Any) -> None:
    sim = start_simulator()
    other = sj.generate("another task", client=client_for(sim), **ONE_K)
    other_images = Store().get(other.task_id).images  # type: ignore[union-attr]
    sim.set_faults("wrongid")
    with pytest.raises(sj.APIError, match="answered about"):
        sj.generate("the real task", client=client_for(sim, max_retries=1), **ONE_K)
    assert Store().get(other.task_id).images == other_images  # type: ignore[union-attr]
    (real,) = Store().history(status="pending")
    assert real.prompt == "the real task"
    sim.set_faults(None)
    assert [r.task_id for r in resume(client=client_for(sim))] == [real.task_id]


# -- the key echoed back -----------------------------------------------------------------------
def test_a_server_echoing_the_key_leaks_it_nowhere(start_simulator: Any, home: Any) -> None:
    from seedream_jupyter.display.taskview import TaskView

    sim = start_simulator(faults="echokey")
    client = client_for(sim)
    job = sj.api.start(sj.GenerationRequest(prompt="echo my key", **ONE_K), client=client)
    view = TaskView(job)
    with pytest.raises(sj.TaskFailedError) as info:
        job.wait(30)
    task_id = info.value.task_id
    shown = [str(info.value), repr(info.value), info.value.server_message or ""]
    time.sleep(0.3)  # the view's trailing update
    shown.append(json.dumps(view.get_state(), default=str))
    shown.append(repr(sj.history()))
    shown.append(sj.history()._repr_html_() or "")
    shell = InteractiveShell.instance()
    magic.load_ipython_extension(shell)
    try:
        original = session().client
        session().client = lambda: client  # type: ignore[method-assign]
        with capture_output() as out:
            shell.run_line_magic("seedream", f"status {task_id}")
        shown.append(out.stdout)
    finally:
        session().client = original  # type: ignore[method-assign]
        magic.unload_ipython_extension(shell)
    assert "[REDACTED]" in out.stdout and "error:" in out.stdout
    assert not [text for text in shown if KEY in text]
    assert leaks(home) == []  # SQLite, its WAL and SHM, images


# -- images that are bombs or garbage -----------------------------------------------------------
@pytest.mark.parametrize("fault", ["bomb", "badimage"])
def test_a_bomb_or_garbage_image_is_refused_and_the_rest_shown(
    start_simulator: Any, fault: str
) -> None:
    from seedream_jupyter.display.taskview import make_thumbnails

    sim = start_simulator(faults=f"{fault}@download#1")
    client = client_for(sim)
    with pytest.raises(ImageRefusedError) as info:
        sj.group(f"a group with one {fault}", max_images=3, client=client, **ONE_K)
    task_id = info.value.task_id
    assert task_id and task_id in str(info.value)
    record = Store().get(task_id)
    assert record is not None and len(record.refused) == 1 and len(record.paths) == 2
    with pytest.warns(UserWarning, match="refused"):
        res = sj.load(task_id)
    assert [img.size for img in res.images] == [(1024, 1024)] * 2
    res._repr_mimebundle_()  # the Result's display
    thumbs, _sizes = make_thumbnails(res, 128)  # the TaskView's gallery
    assert len(thumbs) == 2
    downloads = sim.stats.downloads
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert list(resume(client=client)) == []
    assert sim.stats.downloads == downloads  # never fetched again


# -- counts that do not match the request -------------------------------------------------------
def test_a_completion_with_no_image_is_a_failure_no_resume_finishes_again(
    start_simulator: Any,
) -> None:
    sim = start_simulator(faults="zero")
    client = client_for(sim)
    with pytest.raises(sj.TaskFailedError, match="no_images") as info:
        sj.generate("nothing comes back", client=client, **ONE_K)
    record = Store().get(info.value.task_id)
    assert record is not None and record.status == "failed" and record.cost_usd == 0
    polls = sim.stats.polls
    for _ in range(2):
        assert list(resume(client=client)) == []
    assert sim.stats.polls == polls and sim.stats.downloads == 0
    assert Store().spent_usd(simulated=record.simulated) == 0


def test_surplus_images_one_billing_rule_everywhere(start_simulator: Any) -> None:
    sim = start_simulator(faults="surplus")
    client = client_for(sim)
    with pytest.warns(UserWarning, match="kept the first 2"):
        res = sj.generate("two asked, four sent", n=2, client=client, **ONE_K)
    record = Store().get(res.task_id)
    assert record is not None and record.n_returned == 4 and len(res) == 2 == len(record.images)
    price = sj.GenerationRequest(prompt="x", **ONE_K).spec.price_per_image_usd
    spend = sj.spend()
    total = spend.real_usd + spend.simulated_usd
    budget_counts = Store().spent_usd(simulated=record.simulated)
    assert res.cost_usd == record.cost_usd == total == budget_counts == pytest.approx(2 * price)


def test_right_after_a_task_failed_error_the_history_says_failed(start_simulator: Any) -> None:
    sim = start_simulator(faults="fail")
    client = client_for(sim)
    for attempt in range(8):
        with pytest.raises(sj.TaskFailedError) as info:
            sj.generate(f"fails {attempt}", client=client, **ONE_K)
        record = Store().get(info.value.task_id)
        assert record is not None and record.status == "failed", (attempt, record)
        assert record.error_code == "task_failed"


# -- outcomes that must not hide one another ------------------------------------------------------
def test_failures_under_one_label_never_collapse(start_simulator: Any) -> None:
    sim = start_simulator(faults="fail:0.3", fault_seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = sj.batch(["the same prompt"] * 20, client=client_for(sim), concurrency=8)
    assert len(done) + len(done.failures) == 20 and done.failures  # one outcome each
    assert len(sim.task_ids()) == 20 == len(Store().history())


def test_an_upper_case_callback_url_is_accepted_and_sent(
    start_simulator: Any, tmp_path: Any
) -> None:
    sim = start_simulator()
    res = sj.generate(
        "call me back", callback_url="HTTPS://EXAMPLE.COM/cb", client=client_for(sim), **ONE_K
    )
    assert sim.task(res.task_id).request.callback_url == "HTTPS://EXAMPLE.COM/cb"  # type: ignore[union-attr]
