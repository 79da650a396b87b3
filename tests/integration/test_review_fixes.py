"""Defects a second reader found after the five feature merges, each pinned by a test.

Counts come from the simulator and the history; a clock is read only to order two events.
"""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

import seedream_jupyter as sj
from seedream_jupyter import images
from seedream_jupyter.errors import MAY_BE_BILLED_HINT, ServerError
from seedream_jupyter.session import Session
from seedream_jupyter.store import Store

if TYPE_CHECKING:
    from conftest import StartSimulator

KEY = "sk-review-fixes-0123456789"


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("WAVE_API_KEY", "WAVE_API_KEY_FILE", "SEEDREAM_BASE_URL", "SEEDREAM_SIMULATOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_a_held_sync_submit_does_not_hold_other_budgeted_submits(
    start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # At speed 1 a 2K task takes seconds; the sync submit's answer waits for all of it. Both
    # clients are new, so they count as billed (a budget applies) until a server answers.
    sim = start_simulator(speed=1, jitter=0)
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", "5")
    held = sj.Client(api_key=KEY, base_url=sim.url)
    other = sj.Client(api_key=KEY, base_url=sim.url)
    done: list[str] = []

    def sync_generate() -> None:
        sj.generate("held", client=held, wait="sync", cache=False)
        done.append("held")

    thread = threading.Thread(target=sync_generate)
    thread.start()
    deadline = time.monotonic() + 10
    while sim.stats.submits < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    (first,) = sim.task_ids()
    job = sj.start(sj.build_request("not held"), client=other, cache=False)
    while sim.stats.submits < 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # the second submit reached the server while the first task was still being made (its
    # sync answer not sent yet): it did not wait behind the held submit
    state = sim.task(first)
    assert state is not None and state.status != "completed"
    assert done == []
    job.wait(30)
    thread.join(30)
    assert done == ["held"]


def test_prune_keeps_what_may_be_billed_unless_asked_by_status(isolated: Path) -> None:
    store = Store(isolated)
    request = sj.build_request("maybe billed")
    store.record_intent(request, base_url="https://api.example.test", simulated=False)
    report = store.prune(older_than_days=0)
    assert report.tasks == 0 and [r.status for r in store.history()] == ["unconfirmed"]
    assert store.prune(status="unconfirmed").tasks == 1 and store.history() == []


def test_a_submit_that_may_have_reached_the_server_never_says_try_again(
    start_simulator: StartSimulator,
) -> None:
    sim = start_simulator(faults="500@submit")
    with pytest.raises(ServerError) as info:
        sj.generate("a fox", client=sj.Client(api_key=KEY, base_url=sim.url))
    error = info.value
    assert error.maybe_submitted and error.hint == MAY_BE_BILLED_HINT
    assert "try again" not in str(error) and str(error).count("provider's console") == 1


def test_the_panel_follows_the_session_settings(start_simulator: StartSimulator) -> None:
    sim = start_simulator()
    session = Session.current()
    session.configure(timeout=7.0, cache=False, thumbnail_size=320)
    panel = sj.Panel("a lantern", client=sj.Client(api_key=KEY, base_url=sim.url))
    run = panel.generate()
    assert run is not None
    run.job.wait(30)
    assert run.job.timeout == 7.0 and run.job.cache is False
    assert run.view.thumb_size == 320
    paths = run.save_images(str(Path(session.home) / "saved"))  # the run's "save" button
    assert len(paths) == 1 and paths[0].is_file()


def test_percent_config_simulator_false_beats_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEEDREAM_SIMULATOR", "1")
    monkeypatch.setenv("WAVE_API_KEY", KEY)
    session = Session()
    assert session.target().simulated and "SEEDREAM_SIMULATOR" in session.target().why
    session.configure(simulator=False)
    assert not session.target().simulated


def test_a_result_is_an_input_everywhere_and_names_its_parent(
    start_simulator: StartSimulator, isolated: Path
) -> None:
    sim = start_simulator()
    client = sj.Client(api_key=KEY, base_url=sim.url)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = sj.generate("a fox", client=client, cache=False)
        fused = sj.reference([first, first], "two foxes", client=client)
        plain = sj.generate("the fox at night", images=first, client=client)
    for made in (fused, plain):
        assert made.parent_task_id == first.task_id
        record = Store(isolated).get(made.task_id)
        assert record is not None and record.parent_task_id == first.task_id
    assert [r.task_id for r in sj.lineage(plain)] == [plain.task_id, first.task_id]


def test_reading_an_image_size_closes_its_file(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (30, 20)).save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        for _ in range(3):
            assert images.size_of(path) == (30, 20)
        import gc

        gc.collect()
