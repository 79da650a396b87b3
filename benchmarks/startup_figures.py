"""Figure 5 (start-up), figure 8 (simulator throughput) and the cost of one request."""

from __future__ import annotations

import asyncio
import importlib.machinery
import statistics
import sys
import time
from typing import Any

import httpx
from common import Figure, Settings, child, fmt, median, p95, ratio, times

from seedream_jupyter import simulator
from seedream_jupyter.client import AsyncClient

# Each child prints the seconds of what it measures, as JSON, on its last line.
IMPORT_CODE = """
import json, time
t = time.perf_counter()
import {module}
print(json.dumps(time.perf_counter() - t))
"""
IPYTHON_CODE = """
import json, time
t = time.perf_counter()
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
started = time.perf_counter()
shell.run_line_magic("load_ext", "seedream_jupyter")
loaded = time.perf_counter()
assert "seedream" in shell.magics_manager.magics["cell"]
print(json.dumps([started - t, loaded - started]))
"""


def startup_figure(settings: Settings) -> Figure:
    repeats = settings.repeat(15, 3)
    fig = Figure(
        "5",
        "Start-up, each in a fresh interpreter (ms)",
        ["what", "median", "p95", "baseline", "baseline median", "ratio"],
    )
    runs: dict[str, list[float]] = {"sj": [], "httpx": [], "ipython": [], "load_ext": []}
    for i in range(repeats):  # interleaved, so the machine's load hits both alike
        order = ["sj", "httpx", "ipython"] if i % 2 == 0 else ["ipython", "httpx", "sj"]
        for name in order:
            if name == "ipython":
                bare, load_ext = child(IPYTHON_CODE)
                runs["ipython"].append(bare)
                runs["load_ext"].append(load_ext)
            else:
                module = "seedream_jupyter" if name == "sj" else "httpx"
                runs[name].append(child(IMPORT_CODE.format(module=module)))
    ms = {name: [v * 1000 for v in values] for name, values in runs.items()}
    r_import = ratio(median(ms["sj"]), median(ms["httpx"]))
    r_ext = ratio(median(ms["load_ext"]), median(ms["ipython"]))
    fig.rows.append(
        [
            "import seedream_jupyter",
            fmt(median(ms["sj"]), "", 1),
            fmt(p95(ms["sj"]), "", 1),
            "import httpx",
            fmt(median(ms["httpx"]), "", 1),
            times(r_import),
        ]
    )
    fig.rows.append(
        [
            "%load_ext seedream_jupyter",
            fmt(median(ms["load_ext"]), "", 1),
            fmt(p95(ms["load_ext"]), "", 1),
            "bare IPython shell",
            fmt(median(ms["ipython"]), "", 1),
            times(r_ext),
        ]
    )
    fig.target("import seedream_jupyter ≤ 0.5× import httpx", r_import <= 0.5)
    fig.notes.append(
        f"{repeats} fresh interpreters each. %load_ext is timed inside an IPython "
        "InteractiveShell after it started; it imports neither httpx nor the api (they load "
        "on the first generation). httpx's own import includes its command-line extras "
        "(rich, click) when those are installed."
    )
    fig.data.update(ms)
    return fig


class _AbsentSniffio:
    """Makes ``import sniffio`` cost what it costs when sniffio is not installed: the same
    search of every sys.path entry, then ModuleNotFoundError."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "sniffio":
            importlib.machinery.PathFinder.find_spec("_seedream_no_such_module_")
            raise ModuleNotFoundError("No module named 'sniffio'", name="sniffio")
        return None


async def _gets(url: str, count: int) -> list[float]:
    async with AsyncClient(api_key="bench", base_url=url) as client:
        task = await client.submit(prompt="one request", model="doubao-seedream-4.5")
        for _ in range(20):  # warm the connection
            await client.get(task.task_id)
        seconds = []
        for _ in range(count):
            started = time.perf_counter()
            await client.get(task.task_id)
            seconds.append(time.perf_counter() - started)
        return seconds


def request_figure(settings: Settings) -> Figure:
    fig = Figure(
        "extra",
        "One request: AsyncClient.get on the simulator over loopback (ms)",
        ["sniffio", "median", "p95", "ratio"],
    )
    count = settings.repeat(300, 40)
    runs: dict[str, list[float]] = {"installed": [], "absent (httpcore's fallback)": []}
    with simulator.start(speed=1) as sim:
        for i in range(settings.repeat(6, 2)):
            for name in list(runs) if i % 2 == 0 else reversed(list(runs)):
                blocker = _AbsentSniffio()
                saved = sys.modules.pop("sniffio", None) if name != "installed" else None
                if name != "installed":
                    sys.meta_path.insert(0, blocker)
                try:
                    runs[name] += asyncio.run(_gets(sim.url, count))
                finally:
                    if blocker in sys.meta_path:
                        sys.meta_path.remove(blocker)
                    if saved is not None:
                        sys.modules["sniffio"] = saved
    try:
        import sniffio  # noqa: F401

        installed = True
    except ImportError:
        installed = False
    base = median(runs["installed"])
    for name, values in runs.items():
        ms = [v * 1000 for v in values]
        fig.rows.append(
            [name, fmt(median(ms), "", 3), fmt(p95(ms), "", 3), times(ratio(median(values), base))]
        )
    extra = (median(runs["absent (httpcore's fallback)"]) - base) * 1000
    fig.notes.append(
        f"httpcore looks for sniffio 4 times per async request; without it each look searches "
        f"sys.path again: +{extra:.3f} ms per request here. sniffio is now a dependency"
        + ("" if installed else " (NOT installed in this environment: both rows pay the search)")
        + "."
    )
    fig.data.update(runs)
    return fig


async def _throughput(url: str, tasks: int, concurrency: int) -> tuple[float, int]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        queue = list(range(tasks))
        requests = 0

        async def worker() -> None:
            nonlocal requests
            while queue:
                queue.pop()
                body = {"model": "doubao-seedream-4.0", "prompt": "t", "resolution": "1K"}
                task_id = (await http.post("/v1/tasks", json=body)).json()["task_id"]
                requests += 1
                while True:
                    got = (await http.get(f"/v1/tasks/{task_id}")).json()
                    requests += 1
                    if got["status"] == "completed":
                        break
                    await asyncio.sleep(0.001)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started, requests


def throughput_figure(settings: Settings) -> Figure:
    tasks = settings.repeat(400, 60)
    fig = Figure(
        "8",
        "Simulator throughput (submit + polls until completed; no downloads)",
        ["run", "tasks/s", "requests/s", "wall"],
    )
    rates = []
    with simulator.start(speed=1000, jitter=0, capacity=None) as sim:
        for i in range(settings.repeat(3, 1)):
            wall, requests = asyncio.run(_throughput(sim.url, tasks, 16))
            rates.append(tasks / wall)
            fig.rows.append(
                [
                    str(i + 1),
                    fmt(tasks / wall, "", 0),
                    fmt(requests / wall, "", 0),
                    fmt(wall, " s", 2),
                ]
            )
    fig.notes.append(
        f"{tasks} tasks by 16 concurrent workers at speed 1000, in the benchmark's process. "
        f"Figures 1-3 ask for under 2 tasks/s (polls under 10 requests/s): the simulator "
        f"serves {statistics.median(rates):.0f} tasks/s, so it is not their bottleneck."
    )
    fig.data["tasks_per_second"] = rates
    return fig
