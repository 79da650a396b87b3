"""History against the simulator over HTTP: resume in a new process, expired links, the result
cache, the budget, export, and the API key kept out of every row and file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import seedream_jupyter as sj
from seedream_jupyter.api import HistoryList, export, list_history, load, resume, spend
from seedream_jupyter.client import Client
from seedream_jupyter.display.frontend import NotebookFrontend
from seedream_jupyter.errors import BudgetExceededError, SeedreamError
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.simulator import SimulatorHandle
from seedream_jupyter.store import Store, provenance
from seedream_jupyter.task import Task

StartSimulator = Callable[..., SimulatorHandle]
KEY = "sk-SENTINEL-history-test-31337"
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "seedream-home"
    monkeypatch.setenv("SEEDREAM_HOME", str(path))
    monkeypatch.setenv("WAVE_API_KEY", KEY)
    for name in ("SEEDREAM_SIMULATOR", "SEEDREAM_BUDGET_USD", "WAVE_API_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture
def sim(
    home: Path, start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch
) -> SimulatorHandle:
    handle = start_simulator(api_key=KEY, speed=50)
    monkeypatch.setenv("SEEDREAM_BASE_URL", handle.url)
    return handle


def _serve(start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> Any:
    handle = start_simulator(api_key=KEY, **kw)
    monkeypatch.setenv("SEEDREAM_BASE_URL", handle.url)
    return handle


def _python(code: str, home: Path, url: str, timeout: float = 60) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "SEEDREAM_HOME": str(home),
        "SEEDREAM_BASE_URL": url,
        "WAVE_API_KEY": KEY,
        "PYTHONWARNINGS": "ignore",
    }
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def assert_key_nowhere(home: Path) -> None:
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert KEY.encode() not in path.read_bytes(), f"API key found in {path}"
    conn = sqlite3.connect(home / "history.sqlite3")
    for table in ("tasks", "images", "inputs"):
        for row in conn.execute(f"SELECT * FROM {table}"):
            assert KEY not in repr(row)
    conn.close()


SUBMIT_AND_TIME_OUT = """
    import json
    import seedream_jupyter as sj
    from seedream_jupyter.errors import TaskTimeoutError
    try:
        sj.generate("paper lanterns over a river", seed=77, timeout=0.3)
    except TaskTimeoutError as exc:
        print(json.dumps({"task_id": exc.task_id, "message": str(exc)}))
"""
SUBMIT_AND_HANG = """
    import seedream_jupyter as sj
    sj.generate("paper lanterns over a river", seed=77, timeout=120)
"""
RESUME = """
    import json
    import seedream_jupyter as sj
    done = sj.resume(timeout=60)
    print(json.dumps({
        "ids": [r.task_id for r in done],
        "paths": [[str(p) for p in r.paths] for r in done],
        "sizes": [[im.size for im in r.images] for r in done],
        "summary": done.summary(),
    }))
"""


@pytest.mark.parametrize("how", ["timeout", "killed"])
def test_wait_cut_short_is_finished_by_resume_in_a_new_process(
    home: Path, start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    # tasks stay queued 3 s, so the first process gives up (or dies) before completion
    server = _serve(start_simulator, monkeypatch, speed=20, queue_seconds=3.0)
    if how == "timeout":
        first = _finish(_python(SUBMIT_AND_TIME_OUT, home, server.url))
        task_id = first["task_id"]
        assert task_id in first["message"] and "sj.resume()" in first["message"]
    else:
        proc = _python(SUBMIT_AND_HANG, home, server.url)
        deadline = time.monotonic() + 30
        pending: list[Any] = []
        while not pending and time.monotonic() < deadline:
            time.sleep(0.05)
            if (home / "history.sqlite3").exists():
                pending = Store(home).pending()
        proc.kill()  # a kernel restart: no clean-up code runs
        proc.wait(10)
        assert len(pending) == 1
        task_id = pending[0].task_id
    record = Store(home).get(task_id)
    assert record is not None and record.is_pending and record.base_url == server.url
    assert server.task(task_id) is not None

    second = _finish(_python(RESUME, home, server.url))
    assert second["ids"] == [task_id], second["summary"]
    (paths,) = second["paths"]
    assert len(paths) == 1 and Path(paths[0]).is_file()
    assert second["sizes"] == [[[2048, 2048]]]
    assert server.stats.submits == 1  # resumed, not submitted again

    record = Store(home).get(task_id)
    assert record is not None and record.status == "completed" and record.all_on_disk
    meta = provenance.read(Path(paths[0]).read_bytes())
    assert meta is not None and meta["task_id"] == task_id and meta["seed"] == 77
    assert load(task_id).images[0].size == (2048, 2048)
    # nothing left to resume
    again = _finish(_python(RESUME, home, server.url))
    assert again["ids"] == []
    assert_key_nowhere(home)


def test_images_are_on_disk_before_their_links_expire(
    home: Path, start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _serve(start_simulator, monkeypatch, speed=50, url_ttl=3.0)
    result = sj.generate("a fox at dusk", n=2, resolution="2K", client=Client())
    assert len(result.paths) == 2 and all(p.is_file() for p in result.paths)
    assert server.stats.downloads_ok == 2
    record = Store(home).get(result.task_id)
    assert record is not None and record.all_on_disk
    expires = max(img.expires_at or 0 for img in record.images)
    assert expires < time.time() + 5
    deadline = time.monotonic() + 10  # expires_at may be rounded to whole seconds
    while (gone := httpx.get(result.urls[0])).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert gone.status_code == 410  # the link is dead ...
    downloads = server.stats.downloads
    again = load(result.task_id)  # ... the images are not
    assert [im.size for im in again.images] == [(2048, 2048), (2048, 2048)]
    assert again.paths == result.paths
    assert list_history(1)[0].to_result().task_id == result.task_id
    assert server.stats.downloads == downloads  # read from disk, nothing fetched


def test_repeated_fixed_seed_request_sends_no_submit(home: Path, sim: SimulatorHandle) -> None:
    client = Client()
    first = sj.generate("a lighthouse in fog", seed=1234, client=client)
    assert sim.stats.submits == 1 and not first.from_cache
    second = sj.generate("a lighthouse in fog", seed=1234, client=client)
    assert sim.stats.submit_requests == 1  # nothing sent
    assert second.from_cache and second.task_id == first.task_id
    assert second.paths == first.paths
    assert second.images[0].tobytes() == first.images[0].tobytes()
    # a fresh client (as after a kernel restart) also answers from disk
    assert sj.generate("a lighthouse in fog", seed=1234, client=Client()).from_cache
    assert sim.stats.submit_requests == 1
    # cache=False forces a submit; another seed or parameter misses; seed -1 always submits
    assert not sj.generate("a lighthouse in fog", seed=1234, client=client, cache=False).from_cache
    assert sim.stats.submits == 2
    sj.generate("a lighthouse in fog", seed=1235, client=client)
    sj.generate("a lighthouse in fog", seed=1234, aspect_ratio="16:9", client=client)
    assert sim.stats.submits == 4
    for _ in range(2):
        assert not sj.generate("a lighthouse in fog", seed=-1, client=client).from_cache
    assert sim.stats.submits == 6
    assert_key_nowhere(home)


def test_budget_refuses_a_submit_that_would_exceed_it(
    home: Path, sim: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = GenerationRequest(prompt="earlier real work")
    price = request.estimate_cost()
    db = Store(home)
    db.record_submitted(
        Task("task-earlier"), request, base_url="https://www.qingbo.dev", simulated=False
    )
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", "0.05")
    assert spend().real_usd == pytest.approx(price)
    with pytest.raises(BudgetExceededError) as info:
        sj.generate("one more", client=Client())  # not yet known to be a simulator: real rules
    assert f"${0.05 - price:.4f}" in str(info.value)  # says how much is left
    assert sim.stats.submit_requests == 0
    assert len(list_history()) == 1


def test_resume_marks_unknown_and_orphaned_tasks_lost(home: Path, sim: SimulatorHandle) -> None:
    db = Store(home)
    request = GenerationRequest(prompt="forgotten")
    db.record_submitted(Task("task-unknown"), request, base_url=sim.url, simulated=True)
    # a task of an embedded simulator that died with its kernel (nothing listens there)
    db.record_submitted(Task("task-orphan"), request, base_url="http://127.0.0.1:9", simulated=True)
    db.record_submitted(
        Task("task-elsewhere"), request, base_url="https://other.example", simulated=False
    )
    done = resume(timeout=10, client=Client())
    assert list(done) == []
    assert sorted(done.lost) == ["task-orphan", "task-unknown"]
    assert done.other_servers == ["task-elsewhere"]
    assert {r.task_id for r in list_history(status="lost")} == {"task-orphan", "task-unknown"}
    assert [r.task_id for r in db.pending()] == ["task-elsewhere"]
    assert sim.stats.submits == 0


def test_history_table_export_and_load_errors(
    home: Path, sim: SimulatorHandle, tmp_path: Path
) -> None:
    client = Client()
    a = sj.generate("<b>bold</b> & a cat", seed=1, client=client)
    b = sj.generate("a dog", n=2, seed=2, client=client)
    table = list_history()
    assert isinstance(table, HistoryList)
    assert [r.task_id for r in table] == [b.task_id, a.task_id]
    assert table._repr_html_() is None  # no notebook here: IPython shows the text repr
    sj.Session.current().set_frontend(NotebookFrontend())
    page = table._repr_html_()
    assert page is not None
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; a cat" in page and "<b>bold</b>" not in page
    assert page.count("data:image/jpeg;base64,") == 2
    assert "SIMULATED" in page and len(page) < 40_000
    assert b.task_id in repr(table)
    assert [r.task_id for r in table.results()] == [b.task_id, a.task_id]
    # sj.history is callable and carries the other functions
    assert [r.task_id for r in sj.history(1)] == [b.task_id]
    assert sj.history.load(a.task_id).task_id == a.task_id

    out = tmp_path / "export"
    files = export(out)
    assert sorted(p.name for p in files) == sorted(
        [f"{a.task_id}-1.jpg", f"{b.task_id}-1.jpg", f"{b.task_id}-2.jpg"]
    )
    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 3 == len(files)
    entry = next(e for e in lines if e["task_id"] == a.task_id)
    assert entry["prompt"] == "<b>bold</b> & a cat" and entry["seed"] == 1
    assert entry["model"] == "doubao-seedream-4.5" and entry["params"]["seed"] == 1
    assert entry["created"] and (out / entry["file"]).is_file()
    with Image.open(out / entry["file"]) as image:
        assert image.size == (2048, 2048)
    export(out, task_ids=[a.task_id])  # again: the manifest is updated, not duplicated
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 3

    # a file deleted by hand comes back while its link still works
    (lost_file,) = a.paths
    lost_file.unlink()
    downloads = sim.stats.downloads_ok
    assert load(a.task_id).paths == [lost_file] and lost_file.is_file()
    assert sim.stats.downloads_ok == downloads + 1

    with pytest.raises(SeedreamError, match=r"sj\.history\(\)"):
        load("task-does-not-exist")
    report = sj.history.prune(keep_last=1, dry_run=True)
    assert report.tasks == 1 and report.files == 1
    assert_key_nowhere(home)


def test_sj_history_is_callable_whatever_was_imported_first(home: Path) -> None:
    code = """
        import json, sys
        import seedream_jupyter as sj
        if sys.argv[1] == "module-first":
            import seedream_jupyter.api.archive
        rows = sj.history(5)
        report = sj.history.prune(dry_run=True)
        print(json.dumps({"rows": len(rows), "tasks": report.tasks,
                          "callable": callable(sj.history)}))
    """
    for order in ("module-first", "attribute-first"):
        env = {**os.environ, "SEEDREAM_HOME": str(home)}
        out = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code), order],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert json.loads(out.stdout) == {"rows": 0, "tasks": 0, "callable": True}


def test_load_fetches_a_task_the_history_thought_pending(
    home: Path, start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # queued for 2 s, so a 0.6 s timeout (which also covers the submit) runs out while it waits
    server = _serve(start_simulator, monkeypatch, speed=50, queue_seconds=2.0)
    with pytest.raises(sj.TaskTimeoutError) as info:
        sj.generate("a heron, later", timeout=0.6, client=Client())
    task_id = info.value.task_id or ""
    assert f"sj.load({task_id!r})" in str(info.value)
    with pytest.raises(SeedreamError, match=r"still queued on the server .*sj\.load"):
        load(task_id)  # asked the server once: not done yet, and nothing lost
    deadline = time.monotonic() + 10
    while (state := server.task(task_id)) is not None and state.status != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    result = load(task_id)  # the advertised way back: polls once, saves the images
    assert result.task_id == task_id and result.images[0].size == (2048, 2048)
    record = Store(home).get(task_id)
    assert record is not None and record.status == "completed" and record.all_on_disk
    assert server.stats.submits == 1


def test_a_task_with_some_images_lost_still_loads_the_rest(
    home: Path, start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _serve(start_simulator, monkeypatch, speed=50, url_ttl=1.0)
    result = sj.generate("two foxes", n=2, resolution="2K", client=Client())
    result.paths[1].unlink()  # deleted by hand, and its link is about to expire
    deadline = time.monotonic() + 10
    while httpx.get(result.urls[1]).status_code == 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    with pytest.warns(UserWarning, match="1 of its 2 images are not on disk"):
        partial = load(result.task_id)
    assert partial.paths == result.paths[:1] and len(partial.images) == 1
    assert [r.task_id for r in list_history().results()] == [result.task_id]


def test_spend_budget_line_counts_all_real_spend_as_the_submit_check_does(home: Path) -> None:
    db = Store(home)
    request = GenerationRequest(prompt="real work")
    price = request.estimate_cost()
    for task_id in ("task-old", "task-new", "task-forgotten"):
        db.record_submitted(Task(task_id), request, base_url="https://x.example", simulated=False)
    with sqlite3.connect(home / "history.sqlite3") as conn:
        conn.execute(
            "UPDATE tasks SET created_at = ? WHERE task_id = 'task-old'", (time.time() - 3 * 86400,)
        )
    db.mark_lost("task-forgotten", "the server no longer knows this task (HTTP 404)")
    assert db.spent_usd(simulated=False) == pytest.approx(3 * price)  # lost may be billed
    recent = spend(days=1, budget_usd=0.5)
    assert recent.real_usd == pytest.approx(2 * price)  # the rows follow the filter ...
    assert f"${0.5 - 3 * price:.4f} left" in repr(recent)  # ... what is left does not
