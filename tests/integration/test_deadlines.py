"""One retry engine with one attempt counter and one deadline, over real sockets.

Counts come from the simulator's own counters, not from clocks; a clock is read only where
the promise itself is about time (a call returns within its timeout).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

import seedream_jupyter as sj
from seedream_jupyter.client import Client, PollPolicy
from seedream_jupyter.errors import RateLimitError, ServerError

if TYPE_CHECKING:
    from conftest import StartSimulator

KEY = "sk-deadlines-0123456789"
FAST_POLL = PollPolicy(first_delay=0.01, min_interval=0.01, max_interval=0.05)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("WAVE_API_KEY", "WAVE_API_KEY_FILE", "SEEDREAM_BASE_URL", "SEEDREAM_SIMULATOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path))


def test_a_server_that_always_answers_503_gets_exactly_retries_plus_one_requests(
    start_simulator: StartSimulator, backoffs_off: None
) -> None:
    sim = start_simulator()
    with Client(api_key=KEY, base_url=sim.url, poll=FAST_POLL) as client:
        task = client.submit(prompt="a fox")
        sim.set_faults("503@get")
        polls_before = sim.stats.polls
        with (
            Client(api_key=KEY, base_url=sim.url, max_retries=5) as strict,
            pytest.raises(ServerError),
        ):
            strict.get(task.task_id)
    assert sim.stats.polls - polls_before == 6


def test_a_retry_after_of_a_billion_seconds_is_not_waited_for(
    start_simulator: StartSimulator,
) -> None:
    sim = start_simulator(faults="429@submit~1000000000")
    with Client(api_key=KEY, base_url=sim.url, poll=FAST_POLL) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitError, match=r"1e\+09 s|1000000000 s"):
            sj.generate("a fox", client=client, timeout=10)
        assert time.monotonic() - started < 11
    assert sim.stats.submits == 0 and sim.stats.submit_requests == 1


def test_a_retry_after_longer_than_the_time_left_raises_at_once_naming_the_wait(
    start_simulator: StartSimulator,
) -> None:
    sim = start_simulator(faults="429@submit~8")
    with Client(api_key=KEY, base_url=sim.url, poll=FAST_POLL) as client:
        started = time.monotonic()
        with pytest.raises(RateLimitError, match="would wait 8 s") as info:
            sj.generate("a fox", client=client, timeout=3)
        assert time.monotonic() - started < 3
    assert "timeout" in str(info.value)
    assert sim.stats.submit_requests == 1


def test_the_timeout_bounds_submit_polls_and_downloads_together(
    start_simulator: StartSimulator,
) -> None:
    # every request is answered slowly, the task takes seconds: the generation as a whole
    # must stop at its timeout
    sim = start_simulator(speed=1, faults="slow@all~0.3")
    with Client(api_key=KEY, base_url=sim.url, poll=FAST_POLL) as client:
        started = time.monotonic()
        with pytest.raises(sj.TaskTimeoutError) as info:
            sj.generate("a fox", client=client, timeout=1.5)
        assert time.monotonic() - started < 1.5 + 0.5
    assert info.value.task_id.startswith("task")  # the submit made it: the id is kept


def test_a_download_that_never_finishes_is_bounded_by_the_timeout(
    start_simulator: StartSimulator,
) -> None:
    sim = start_simulator(faults="slow@download~30")
    with Client(api_key=KEY, base_url=sim.url, poll=FAST_POLL) as client:
        started = time.monotonic()
        with pytest.raises(sj.ImageDownloadError, match="did not finish within 2 s") as info:
            sj.generate("a fox", client=client, timeout=2)
        assert time.monotonic() - started < 2.5
    task_id = info.value.task_id
    assert task_id is not None and sim.task(task_id) is not None  # the id is kept
    record = sj.Session.current().store().get(task_id)
    assert record is not None and record.status == "completed"  # resumable later
