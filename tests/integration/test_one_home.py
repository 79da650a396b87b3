"""One home per fact, after the merges: each test pins that the surfaces share one piece.

Against the simulator over real sockets where a job runs; counts come from the simulator and
the history, not from a clock.
"""

from __future__ import annotations

import io
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import seedream_jupyter as sj
from seedream_jupyter import catalog, errors, results
from seedream_jupyter.api import build, history_writes
from seedream_jupyter.display import formatters, gallery, grid, static, terminal
from seedream_jupyter.magic import whole_api
from seedream_jupyter.magic.core import SeedreamMagic
from seedream_jupyter.magic.running import short_error
from seedream_jupyter.panel import Panel
from seedream_jupyter.panel.form import PanelForm
from seedream_jupyter.panel.messages import describe_error
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.session import SETTINGS, SIMULATOR_NOTICE, Session, session
from seedream_jupyter.store import Store
from seedream_jupyter.task import Task, TaskStatus

if TYPE_CHECKING:
    from conftest import StartSimulator

KEY = "sk-one-home-0123456789abcdef"
NEW_ID = "doubao-seedream-5.0-pro"
ONE_K = {"model": "4.0", "resolution": "1K"}

pytestmark = pytest.mark.filterwarnings("ignore::seedream_jupyter.api.SimulatorWarning")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in (
        "WAVE_API_KEY",
        "WAVE_API_KEY_FILE",
        "SEEDREAM_BASE_URL",
        "SEEDREAM_SIMULATOR",
        "SEEDREAM_BUDGET_USD",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path / "home"))
    session().set_frontend(None)
    yield tmp_path / "home"
    session().detect_frontend()


def wait_until(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# -- 1. one caption, one cost text ---------------------------------------------------------------


def unknown_result() -> sj.Result:
    request = GenerationRequest(prompt="a new model's fox", model=NEW_ID, strict=False)
    jpeg = gallery.sheet_jpeg([_tiny_jpeg()])
    return sj.Result(Task("task-wave-unknown", TaskStatus.COMPLETED), request, image_bytes=[jpeg])


def _tiny_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (32, 18), (200, 80, 40)).save(out, "JPEG")
    return out.getvalue()


def test_every_caption_says_price_unknown_for_an_id_the_catalog_does_not_know() -> None:
    res = unknown_result()
    job = static.FrozenJob.of(_FinishedJob(res))
    captions = {
        "Result.caption": res.caption(),
        "Result.summary": res.summary(),
        "HTML gallery": formatters.result_html(res),
        "static caption": static.caption_text(job),
        "header": static.header_text(res.params),
    }
    for where, text in captions.items():
        assert "price unknown" in text, where
        assert "$0.00" not in text, where
    assert static.caption_text(job).startswith(results.caption(res.params, images=1))


class _FinishedJob:
    """A completed job holding ``result`` (what ``FrozenJob.of`` reads)."""

    def __init__(self, result: sj.Result) -> None:
        self.request, self.result = result.params, result
        self.task_id, self.state, self.progress = result.task_id, sj.JobState.COMPLETED, 100
        self.started_at, self.finished_at = time.time() - 1, time.time()
        self.from_cache, self.error, self.message, self.simulated = False, None, None, False


def test_the_panel_and_the_dry_run_say_one_cost() -> None:
    form = PanelForm(prompt="a fox", model="4.5")
    form.action.value = "group"
    form.count.value = 3
    request = form.request()
    breakdown = request.cost_breakdown()
    spec = catalog.MODELS["doubao-seedream-4.5"]
    assert breakdown == f"{spec.cost_text(3)} (up to 3 images × $0.02975)"
    assert spec.cost_text(3) == "≈ $0.0893"  # 0.08925, rounded half up
    assert breakdown in form.cost.value
    assert breakdown in whole_api.cost_line(request)
    assert unknown_result().params.cost_breakdown() == "price unknown"


# -- 2. one SIMULATED notice ---------------------------------------------------------------------


def test_one_simulated_notice_everywhere(start_simulator: StartSimulator) -> None:
    assert SIMULATOR_NOTICE is results.SIMULATED_NOTICE
    sim = start_simulator(jitter=0)
    client = sj.Client(api_key=KEY, base_url=sim.url)
    job = sj.start(sj.build_request("a simulated heron", **ONE_K), client=client, cache=False)
    job.wait(timeout=30)
    stream = io.StringIO()
    line = terminal.TerminalProgress("one", stream=stream)
    line.add(job)
    line.close()
    assert results.SIMULATED_NOTICE in stream.getvalue()
    assert results.SIMULATED_NOTICE in static.summary_text(job)
    notice = gallery.notice_html(results.SIMULATED_NOTICE)
    assert gallery.NOTICE_STYLE in notice
    with pytest.warns(sj.SimulatorWarning, match="synthetic images from the seedream-jupyter"):
        sj.generate("warned", client=client, cache=False, **ONE_K)
    client.close()


# -- 3. errors said one way, redacted ------------------------------------------------------------


def test_every_view_says_an_error_the_same_redacted_way() -> None:
    errors.register_secret(KEY)
    bug = RuntimeError(f"the server echoed {KEY}")
    message, hint = errors.describe(bug)
    assert KEY not in message and message.startswith("RuntimeError:") and hint
    assert KEY not in describe_error(bug)
    lines = short_error(bug)._render_traceback_()  # type: ignore[attr-defined]
    assert lines == [message, hint]
    refused = errors.ValidationError("seed", "x", "an integer")
    assert describe_error(refused) == errors.describe(refused)[0]
    assert describe_error(refused).startswith("Not sent — seed: an integer")
    failed = errors.TaskFailedError("task-1", "content_policy", "refused")
    assert describe_error(failed) == f"{failed.message} — {failed.hint}"
    frozen = static.FrozenJob(
        request=GenerationRequest(prompt="x"),
        task_id="task-1",
        state=sj.JobState.FAILED,
        progress=0,
        started_at=0.0,
        finished_at=1.0,
        from_cache=False,
        error=failed,
        message=str(failed),  # what a Job keeps as its note
        simulated=False,
        image_count=0,
    )
    snap = static.snapshot(frozen)
    assert (snap.error, snap.hint) == errors.describe(failed)
    assert snap.message == ""  # the note only repeated the error: shown once
    assert errors.describe(OSError("disk"))[1] == ""


# -- 4. every history write on the writer thread -------------------------------------------------


def test_history_writes_of_a_job_and_a_resume_run_on_the_writer_thread(
    start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not hasattr(Session, "write_history")
    threads: dict[str, set[str]] = {}

    def recorded(name: str) -> Any:
        original = getattr(Store, name)

        def write(self: Store, *args: Any, **kwargs: Any) -> Any:
            threads.setdefault(name, set()).add(threading.current_thread().name)
            return original(self, *args, **kwargs)

        return write

    for name in ("record_state", "save_image", "mark_lost", "record_submitted"):
        monkeypatch.setattr(Store, name, recorded(name))
    sim = start_simulator(speed=2, jitter=0)
    client = sj.Client(api_key=KEY, base_url=sim.url)
    with pytest.raises(sj.TaskTimeoutError):
        sj.generate("slow enough to time out", client=client, cache=False, timeout=0.6, **ONE_K)
    done = sj.resume(timeout=60, client=client)
    assert len(done) == 1 and done[0].paths
    assert {"record_state", "save_image", "record_submitted"} <= set(threads)
    for name, names in threads.items():
        assert all(n.startswith("seedream-history") for n in names), (name, names)
    client.close()


def test_a_status_write_that_fails_is_warned_about() -> None:
    def broken() -> None:
        raise errors.HistoryError("the disk is full")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history_writes.queue("recording the status of task-1", broken)
        # the warning comes from the write's callback, on the writer thread
        wait_until(lambda: any(w.category is errors.HistoryWarning for w in caught), 10)
        assert history_writes.blocking("recording task-2", broken) is None
    texts = [str(w.message) for w in caught if w.category is errors.HistoryWarning]
    assert [t.split(" — ")[0] for t in texts] == [
        "recording the status of task-1 failed: the disk is full",
        "recording task-2 failed: the disk is full",
    ]
    assert history_writes.blocking("a write", lambda: 7) == 7


# -- 5. compare mode: thumbnails off the loop thread, and a working Cancel ------------------------


def test_compare_makes_its_thumbnails_off_the_loop_thread(
    start_simulator: StartSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    made_on: list[str] = []
    original = grid.images.thumbnail_jpeg

    def recording(*args: Any, **kwargs: Any) -> bytes:
        made_on.append(threading.current_thread().name)
        return original(*args, **kwargs)

    monkeypatch.setattr(grid.images, "thumbnail_jpeg", recording)
    sim = start_simulator(jitter=0)
    client = sj.Client(api_key=KEY, base_url=sim.url)
    panel = Panel("a {style} heron", client=client)
    panel.form.model.value = "doubao-seedream-4.0"
    panel.form.resolution.value = "1K"
    panel.form.vary.value = "style=ink,oil"
    panel.generate()
    wait_until(lambda: bool(panel.sweeps))
    assert len(panel.sweeps[0]) == 2
    assert made_on and "seedream-loop" not in made_on
    client.close()


def test_compare_cancel_sends_no_other_combination_and_cancels_the_queued(
    start_simulator: StartSimulator,
) -> None:
    # One slot on the server: the first task processes, the others stay queued.
    sim = start_simulator(speed=1, capacity=1, jitter=0)
    client = sj.Client(api_key=KEY, base_url=sim.url)
    panel = Panel("a heron, take {take}", client=client)
    panel.form.model.value = "doubao-seedream-4.0"
    panel.form.resolution.value = "1K"
    panel.form.vary.value = "take=1,2,3,4,5,6,7,8"
    compare = panel._compare()
    assert compare is not None and panel.runs_box.children[0] is compare.box
    wait_until(lambda: sim.stats.submits >= 4)  # the first four (concurrency 4) are sent
    compare.cancel_button.click()
    wait_until(lambda: compare.done, 60)
    sweep = compare.sweep
    assert sweep is not None
    submitted = sim.task_ids()
    assert len(submitted) == 4  # nothing started after the click
    statuses = [sim.task(task_id).status for task_id in submitted]
    assert statuses.count("cancelled") >= 2  # the queued ones, refunded
    not_sent = [e for e in sweep.failures.values() if isinstance(e, errors.TaskCancelledError)]
    assert len(not_sent) >= 4
    assert "cancelled" in compare.message.value
    assert compare.cancel_button.layout.display == "none"
    client.close()


# -- 6. settings: one home for defaults and help -------------------------------------------------


def test_every_magic_setting_takes_its_default_and_help_from_the_session() -> None:
    traits = SeedreamMagic.class_traits(config=True)
    for name, setting in SETTINGS.items():
        assert name in traits, name
        assert traits[name].default_value == setting.default, name
        assert traits[name].help == setting.sentence, name
    assert "SEEDREAM_BUDGET_USD" in traits["budget_usd"].help
    assert traits["wait"].values == list(catalog.WAIT_MODES) == list(build.WAIT_MODES)


def test_a_budget_that_is_not_a_number_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEEDREAM_BUDGET_USD", "lots")
    with pytest.raises(errors.ConfigurationError, match="SEEDREAM_BUDGET_USD='lots' is not a"):
        session().budget_usd()


# -- 7. small facts, one home each ---------------------------------------------------------------


def test_references_needed_come_from_the_catalog() -> None:
    for action in catalog.ACTIONS:
        low = catalog.MODELS[catalog.DEFAULT_MODEL].reference_range(action)[0]
        assert build.needs_references(action) is (low > 0), action
    assert catalog.MODELS["doubao-seedream-4.0"].max_refs_plus_outputs == (
        catalog.MAX_REFS_PLUS_OUTPUTS
    )
    limits = catalog.LIMITS
    assert limits["refs_plus_outputs_4.0"].value == catalog.MAX_REFS_PLUS_OUTPUTS
    assert limits["upstream_refs_plus_outputs"].value == catalog.MAX_REFS_PLUS_OUTPUTS


def test_a_replay_goes_through_the_one_helper_path(start_simulator: StartSimulator) -> None:
    sim = start_simulator(jitter=0)
    client = sj.Client(api_key=KEY, base_url=sim.url)
    first = sj.generate("a heron to replay", seed=11, client=client, **ONE_K)
    session().configure(base_url=sim.url)  # the replay uses the session's client
    try:
        again = first.replay()  # fixed seed, nothing changed: from the history
        assert again.from_cache and sim.stats.submits == 1
        changed = first.replay(seed=12)
        assert not changed.from_cache and sim.stats.submits == 2
        with pytest.raises(errors.ValidationError, match="replay takes"):
            first.replay(colour="red")
    finally:
        session().reset("base_url")
    client.close()
