"""The panel's compare mode: the vary field runs a small sweep in the background, shown as a
labelled grid; above the threshold a billed sweep needs a second click."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

import seedream_jupyter as sj
from seedream_jupyter import simulator
from seedream_jupyter.client import PollPolicy
from seedream_jupyter.panel import Panel
from seedream_jupyter.simulator import MockSimulator

pytestmark = pytest.mark.filterwarnings("ignore::seedream_jupyter.api.SimulatorWarning")
FAST = PollPolicy(first_delay=0.01, min_interval=0.01, max_interval=0.05)


@pytest.fixture
def sim() -> Iterator[MockSimulator]:
    with simulator.mock(speed=200, jitter=0, image_side=64) as mocked:  # small: fast
        yield mocked


def test_vary_runs_a_sweep_shown_as_a_grid(sim: MockSimulator) -> None:
    client = sj.Client(api_key="k", base_url=sim.url, transport=sim.transport, poll=FAST)
    client.aio._told_simulated = True
    panel = Panel("a {style} heron", client=client)
    panel.form.vary.value = "style=ink,oil; seed=1,2"
    assert panel.generate() is None and panel.message.value == ""
    deadline = time.monotonic() + 20
    while not panel.sweeps and time.monotonic() < deadline:
        time.sleep(0.02)
    (sweep,) = panel.sweeps
    assert len(sweep) == 4 and sweep.axes == {"style": ["ink", "oil"], "seed": [1, 2]}
    prompts = sorted(json.loads(r.body)["prompt"] for r in sim.requests if r.scope == "submit")
    assert prompts == ["a ink heron", "a ink heron", "a oil heron", "a oil heron"]
    run = panel.runs_box.children[0]
    sheet = run.children[2]
    assert bytes(sheet.value).startswith(b"\xff\xd8") and sheet.layout.display == ""
    client.close()


def test_bad_vary_is_shown_and_a_billed_sweep_needs_a_second_click(sim: MockSimulator) -> None:
    client = sj.Client(api_key="k", base_url=sim.url, transport=sim.transport, poll=FAST)
    panel = Panel("a fox", client=client)
    panel.form.vary.value = "style"
    panel.generate()
    assert "NAME=V1,V2" in panel.message.value and sim.requests == []
    panel.form.vary.value = "seed=" + ",".join(str(i) for i in range(12))
    panel.form.count.value = 3  # 36 images × $0.02975 > $1
    panel.generate()
    assert "Click Generate again" in panel.message.value and sim.requests == []
    panel.generate()  # the same sweep again: sent
    deadline = time.monotonic() + 30
    while not panel.sweeps and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(panel.sweeps[0]) == 12
    client.close()
