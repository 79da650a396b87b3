"""``%%seedream --vary``: a sweep from a cell, on the simulator behind a MockTransport."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import seedream_jupyter as sj
from seedream_jupyter import magic, simulator
from seedream_jupyter.client import PollPolicy
from seedream_jupyter.results import Sweep
from seedream_jupyter.session import Target, session
from seedream_jupyter.simulator import MockSimulator

pytestmark = pytest.mark.filterwarnings("ignore::seedream_jupyter.api.SimulatorWarning")


@pytest.fixture
def sim() -> Iterator[MockSimulator]:
    with simulator.mock(speed=200, jitter=0, image_side=64) as mocked:  # small: fast
        yield mocked


@pytest.fixture
def ip(sim: MockSimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    client = sj.Client(
        api_key="sk-x",
        base_url=sim.url,
        transport=sim.transport,
        poll=PollPolicy(first_delay=0.01, min_interval=0.01, max_interval=0.05),
    )
    monkeypatch.setattr(session(), "client", lambda: client)
    shell = InteractiveShell.instance()
    magic.load_ipython_extension(shell)
    yield shell
    for name in ("grid", "subject", "s"):
        shell.user_ns.pop(name, None)
    magic.unload_ipython_extension(shell)
    client.close()


def submits(sim: MockSimulator) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in sim.requests if r.scope == "submit"]


def cell(ip: InteractiveShell, line: str, body: str) -> Any:
    return ip.run_cell_magic("seedream", line, body)


def test_vary_runs_a_sweep_and_stores_it(ip: InteractiveShell, sim: MockSimulator) -> None:
    ip.user_ns["subject"] = "a heron"
    cell(
        ip,
        "--vary style=watercolor,ink --vary model=4.0,4.5 -s 3 -r 2K grid <<",
        "{subject} in {style}, {{calm}}",
    )
    sweep = ip.user_ns["grid"]
    assert isinstance(sweep, Sweep) and len(sweep) == 4
    assert sweep.axes == {"style": ["watercolor", "ink"], "model": ["4.0", "4.5"]}
    sent = {(p["prompt"], p["model"], p["seed"]) for p in submits(sim)}
    assert sent == {
        (f"a heron in {style}, {{calm}}", model, 3)
        for style in ("watercolor", "ink")
        for model in ("doubao-seedream-4.0", "doubao-seedream-4.5")
    }
    sheet = sweep.grid()  # style on the rows, model on the columns (the order given)
    assert sheet.info["rows"] == ["style"] and sheet.info["cols"] == ["model"]
    with capture_output():
        ip.run_cell("%%seedream --vary seed=1,2 --rows seed\nplain")
    assert isinstance(ip.user_ns["_"], Sweep) and len(ip.user_ns["_"]) == 2


@pytest.mark.parametrize(
    ("line", "body", "match"),
    [
        ("--vary style", "x {style}", "NAME=V1,V2"),
        ("--vary seed=1,x", "x", "whole numbers"),
        ("--vary style=a,b --vary style=c", "x {style}", "once"),
        ("-m 4.0 --vary model=4.0,4.5", "x", "both an option and --vary"),
        ("--vary colour=red,blue", "a fox", "neither a request field"),
        ("--vary model=4.5,5.0 -r 1K", "a fox", "add --skip-invalid"),
        ("--vary seed=1,2 --rows style", "a fox", "name an axis"),
        ("--vary style=a,b", "x {style:>3}", "plain"),
        ("--vary style=a,b", "x {nothing}", "no variable"),
    ],
)
def test_bad_vary_cells_are_one_line_errors_and_send_nothing(
    ip: InteractiveShell, sim: MockSimulator, line: str, body: str, match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        cell(ip, line, body)
    assert sim.requests == []


def test_skip_invalid_and_dry_run(ip: InteractiveShell, sim: MockSimulator) -> None:
    with pytest.raises(UsageError, match="1 of 2"):
        cell(ip, "--vary model=4.0,5.0-lite -r 1K --dry-run", "a fox")
    with capture_output() as out:
        cell(ip, "--vary model=4.0,5.0-lite -r 1K --skip-invalid --dry-run", "a fox")
    assert "1 skipped" in out.stdout and "doubao-seedream-4.0" in out.stdout
    cell(ip, "--vary model=4.0,5.0-lite -r 1K --skip-invalid s <<", "a fox")
    assert len(ip.user_ns["s"]) == 1 and len(submits(sim)) == 1


def test_a_billed_sweep_above_the_threshold_asks_first(
    ip: InteractiveShell, sim: MockSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    billed = Target("https://api.example.test", "sk-x", False, "test")
    monkeypatch.setattr(session(), "target", lambda: billed)
    ip.run_line_magic("config", "SeedreamMagic.confirm_above_usd = 0.05")
    try:
        asked(ip, sim, monkeypatch)
    finally:  # %config lands in the shared shell's config too
        ip.run_line_magic("config", "SeedreamMagic.confirm_above_usd = 1.0")


def asked(ip: InteractiveShell, sim: MockSimulator, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    with capture_output() as out:
        cell(ip, "--vary seed=1,2,3 s <<", "a fox")  # 3 × $0.02975 > $0.05
    assert "Nothing sent" in out.stdout and "--confirm" in out.stdout and sim.requests == []
    cell(ip, "--vary seed=1,2,3 s <<", "a fox")  # answered "y"
    assert len(submits(sim)) == 3
    cell(ip, "--vary seed=4,5,6 --confirm s <<", "a fox")  # no question asked
    assert len(submits(sim)) == 6
    monkeypatch.setattr("builtins.input", lambda prompt: (_ for _ in ()).throw(EOFError()))
    with capture_output() as out:  # nobody can answer (a headless run): nothing is sent
        cell(ip, "--vary seed=7,8,9 s <<", "a fox")
    assert "Add --confirm" in out.stdout and len(submits(sim)) == 6
    assert session().get("confirm_above_usd") == 0.05
