"""Figures 1-3: completion -> decoded images, requests per task, and a batch, against the loop.

The baseline is the provider's documented loop: POST, GET every 2 s until the task is
terminal, then download each image with plain httpx and decode it with PIL. Ours is the
package as a user calls it: ``sj.start(request)`` (submit, the adaptive wait, downloads saved
to the history on disk), then ``result.images``. Both talk to one simulator over loopback,
with its default per-task jitter and queue, and its images drawn ahead (``common.predraw``).
"""

from __future__ import annotations

import io
import math
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from common import Figure, Settings, fmt, mean, median, p95, predraw, ratio, times
from PIL import Image

import seedream_jupyter as sj
from seedream_jupyter import simulator
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.session import session

SHAPES: dict[str, dict[str, Any]] = {
    "1K": {"model": "doubao-seedream-4.0", "resolution": "1K"},
    "2K": {"model": "doubao-seedream-4.5", "resolution": "2K"},
    "4K": {"model": "doubao-seedream-4.5", "resolution": "4K"},
    "group of 4 (2K)": {
        "model": "doubao-seedream-4.5",
        "resolution": "2K",
        "action": "group",
        "max_images": 4,
    },
}
SHORT_TASK_SECONDS = 4.0  # the "tasks shorter than 4 s" (at speed 1)
WARMUP_TASKS = 3  # tasks of each shape ours sees before the measured ones (a session's start)
BATCH_CONCURRENCY = 8


@dataclass
class Outcome:
    strategy: str
    shape: str
    task_id: str
    latency: float  # seconds from the server's completion to decoded images
    duration: float  # the task's own seconds from creation to completion (server clock)
    requests: int = 0  # counted at the server, filled in afterwards
    known: float = float("nan")  # seconds from completion to its first download's arrival
    completed_at: float = 0.0


def request_for(shape: str, index: int) -> GenerationRequest:
    return GenerationRequest(
        prompt=f"benchmark {shape} {index}", aspect_ratio="1:1", seed=index, **SHAPES[shape]
    )


class Bench:
    """One simulator, the client of ours, and the counting of requests per task."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = tempfile.TemporaryDirectory(prefix="sj-bench-")
        self.sim = simulator.start(speed=settings.speed, timing_seed=13)
        self.client = sj.Client(api_key="bench", base_url=self.sim.url)
        self.loop_interval = 2.0 / settings.speed  # the provider's 2 s, at the simulator's pace
        self.predrawn = True
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._drawer = threading.Thread(target=self._draw_ahead, daemon=True)
        session().configure(home=self.home.name)
        session().set_frontend(None)
        self._drawer.start()

    def close(self) -> None:
        self._stop.set()
        self._drawer.join(5)
        self.client.close()
        self.sim.stop()
        session().reset("home")
        session().detect_frontend()
        self.home.cleanup()

    def _draw_ahead(self) -> None:
        while not self._stop.wait(0.01):
            for task_id in self.sim._sim.task_ids():
                if task_id not in self._seen:
                    self._seen.add(task_id)
                    self.predrawn = predraw(self.sim, task_id) and self.predrawn

    # -- the two sides -----------------------------------------------------------------
    def ours(self, shape: str, index: int, wait: str = "poll") -> Outcome:
        request = request_for(shape, index)
        job = sj.start(request, client=self.client, cache=False, wait=wait)
        result = job.future.result(timeout=600)
        result.images  # decoded  # noqa: B018
        done = time.time()
        task = result.task
        assert task.completed_at is not None and task.created_at is not None
        end = task.completed_at
        strategy = "ours" if wait == "poll" else f"ours, wait={wait}"
        return Outcome(
            strategy, shape, task.task_id, done - end, _served(task.raw), completed_at=end
        )

    def loop(self, shape: str, index: int) -> Outcome:
        payload = request_for(shape, index).to_payload()
        with httpx.Client(base_url=self.sim.url, timeout=60) as http:
            task_id = http.post("/v1/tasks", json=payload).json()["task_id"]
            while True:
                time.sleep(self.loop_interval)
                body = http.get(f"/v1/tasks/{task_id}").json()
                if body["status"] in ("completed", "failed", "cancelled"):
                    break
            assert body["status"] == "completed", body
            urls = [u for image in body["result"]["images"] for u in _links(image["url"])]
            for url in urls:
                Image.open(io.BytesIO(http.get(url).content)).load()
        done = time.time()
        end = body["completed_at"] / 1000
        return Outcome("loop", shape, task_id, done - end, _served(body), completed_at=end)

    def count_requests(self, outcomes: list[Outcome]) -> None:
        """Requests each task cost at the server: its submit, its polls and its downloads."""
        by_task: dict[str, int] = {}
        first_download: dict[str, float] = {}
        for recorded in self.sim.requests:
            for part in recorded.path.split("/"):
                if part.startswith("task"):
                    by_task[part] = by_task.get(part, 0) + 1
                    if recorded.scope == "download":
                        first_download[part] = min(
                            first_download.get(part, math.inf), recorded.time
                        )
        for outcome in outcomes:
            outcome.requests = 1 + by_task.get(outcome.task_id, 0)  # + the POST
            seen = first_download.get(outcome.task_id)
            if seen is not None:
                outcome.known = seen - outcome.completed_at


def _links(url: Any) -> list[str]:
    return url if isinstance(url, list) else [url]


def _served(body: Any) -> float:
    return float(body["completed_at"] - body["created_at"]) / 1000


def _together(calls: list[Callable[[], Outcome]]) -> list[Outcome]:
    """Run the calls at once, one thread each (as concurrent notebook users would)."""
    out: list[Outcome | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, call: Callable[[], Outcome]) -> None:
        try:
            out[i] = call()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [o for o in out if o is not None]


def latency_figures(bench: Bench) -> tuple[Figure, Figure]:
    settings = bench.settings
    rounds = settings.rounds or settings.repeat(10, 2)
    for i in range(WARMUP_TASKS):  # ours learns from these; the loop has nothing to learn
        _together([lambda s=s, i=i: bench.ours(s, 900 + i) for s in SHAPES])
    outcomes: list[Outcome] = []
    for r in range(rounds):
        sides = [bench.ours, bench.loop] if r % 2 == 0 else [bench.loop, bench.ours]
        for side in sides:  # one side at a time, all shapes at once: the same load for both
            outcomes += _together([lambda s=s, side=side, r=r: side(s, r) for s in SHAPES])
    bench.count_requests(outcomes)

    fig1 = Figure(
        "1",
        "Completion → decoded images (seconds after the server completed the task)",
        [
            "shape",
            "ours median",
            "ours p95",
            "loop median",
            "loop p95",
            "ratio (medians)",
            "of which polling: ours",
            "loop",
        ],
    )
    fig2 = Figure(
        "2",
        "Requests per task, counted at the server (submit + polls + downloads)",
        ["shape", "ours", "loop", "ratio", "ours polls", "loop polls"],
    )
    fig1.data["tasks"] = [o.__dict__ for o in outcomes]
    for shape in [*SHAPES, "tasks shorter than 4 s"]:
        if shape in SHAPES:
            picked = {
                s: [o for o in outcomes if o.shape == shape and o.strategy == s]
                for s in ("ours", "loop")
            }
        else:
            short = SHORT_TASK_SECONDS / settings.speed
            picked = {
                s: [o for o in outcomes if o.strategy == s and o.duration < short]
                for s in ("ours", "loop")
            }
        ours = [o.latency for o in picked["ours"]]
        loop = [o.latency for o in picked["loop"]]
        r = ratio(median(ours), median(loop))
        known = {s: median([o.known for o in picked[s] if not math.isnan(o.known)]) for s in picked}
        fig1.rows.append(
            [
                shape,
                fmt(median(ours), " s"),
                fmt(p95(ours), " s"),
                fmt(median(loop), " s"),
                fmt(p95(loop), " s"),
                times(r),
                fmt(known["ours"], " s"),
                fmt(known["loop"], " s"),
            ]
        )
        limit = 0.5 if shape not in SHAPES else 0.35
        if shape != "group of 4 (2K)":
            fig1.target(f"{shape}: ours ≤ {limit}× the loop's median", r <= limit)
        if shape in SHAPES:
            images = SHAPES[shape].get("max_images", 1)
            ours_n = mean([o.requests for o in picked["ours"]])
            loop_n = mean([o.requests for o in picked["loop"]])
            rr = ratio(ours_n, loop_n)
            fig2.rows.append(
                [
                    shape,
                    fmt(ours_n, "", 2),
                    fmt(loop_n, "", 2),
                    times(rr),
                    fmt(ours_n - 1 - images, "", 2),
                    fmt(loop_n - 1 - images, "", 2),
                ]
            )
            fig2.target(f"{shape}: ours ≤ 1.0× the loop's requests", rr <= 1.0)
    fig1.notes.append(
        f"{rounds} tasks per shape and side, after {WARMUP_TASKS} unmeasured tasks of each "
        "shape for ours (what a session has learned after its first few). Sides alternate "
        'round by round; within a round the four shapes run at once. "Of which polling": '
        "median seconds from the completion to the arrival of the task's first download, "
        "i.e. until the client knew; the rest is downloading, saving (ours) and decoding."
    )
    if settings.speed != 1:
        fig1.notes.append(
            f"Simulator speed {settings.speed:g}: the loop looks every {bench.loop_interval:g} s."
        )
    if not bench.predrawn:
        fig1.notes.append(
            "The simulator's images could not be drawn ahead: both sides include drawing."
        )
    return fig1, fig2


def batch_figure(bench: Bench) -> Figure:
    settings = bench.settings
    count = settings.repeat(64, 16)
    fig = Figure(
        "3",
        f"Batch of {count} × 2K at concurrency {BATCH_CONCURRENCY} (wall seconds)",
        ["side", "wall", "ideal bound", "ideal / wall", "FIFO schedule", "schedule / wall"],
    )

    def ours(wait: str, offset: int) -> tuple[float, list[float]]:
        started = time.monotonic()
        results = sj.batch(
            [request_for("2K", offset + i) for i in range(count)],
            concurrency=BATCH_CONCURRENCY,
            client=bench.client,
            cache=False,
            wait=wait,
        )
        return time.monotonic() - started, [_served(r.task.raw) for r in results]  # submit order

    ours_wall, ours_durations = ours("poll", 1000)
    ours_ideal = sum(ours_durations) / BATCH_CONCURRENCY

    left = list(range(count))
    lock = threading.Lock()
    loop_outcomes: list[Outcome] = []

    def worker() -> None:
        while True:
            with lock:
                if not left:
                    return
                index = left.pop()
            outcome = bench.loop("2K", 2000 + index)
            with lock:
                loop_outcomes.append(outcome)  # appended in completion order

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(BATCH_CONCURRENCY)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loop_wall = time.monotonic() - started
    loop_ideal = sum(o.duration for o in loop_outcomes) / BATCH_CONCURRENCY
    ours_fifo = _fifo(ours_durations, BATCH_CONCURRENCY)
    loop_fifo = _fifo([o.duration for o in loop_outcomes], BATCH_CONCURRENCY)

    ours_share, loop_share = ours_ideal / ours_wall, loop_ideal / loop_wall
    fig.rows.append(
        [
            "ours (sj.batch)",
            fmt(ours_wall, " s", 2),
            fmt(ours_ideal, " s", 2),
            fmt(ours_share, "", 3),
            fmt(ours_fifo, " s", 2),
            fmt(ours_fifo / ours_wall, "", 3),
        ]
    )
    sync_wall, sync_durations = ours("sync", 4000)
    sync_ideal = sum(sync_durations) / BATCH_CONCURRENCY
    sync_fifo = _fifo(sync_durations, BATCH_CONCURRENCY)
    fig.rows.append(
        [
            "ours, wait='sync'",
            fmt(sync_wall, " s", 2),
            fmt(sync_ideal, " s", 2),
            fmt(sync_ideal / sync_wall, "", 3),
            fmt(sync_fifo, " s", 2),
            fmt(sync_fifo / sync_wall, "", 3),
        ]
    )
    fig.rows.append(
        [
            f"loop in {BATCH_CONCURRENCY} threads",
            fmt(loop_wall, " s", 2),
            fmt(loop_ideal, " s", 2),
            fmt(loop_share, "", 3),
            fmt(loop_fifo, " s", 2),
            fmt(loop_fifo / loop_wall, "", 3),
        ]
    )
    fig.target("ours ≥ 0.9 of the ideal bound", ours_share >= 0.9)
    fig.notes.append(
        "Ideal bound: the sum of the tasks' own durations (server clock) / concurrency, i.e. "
        "a next task submitted the instant one completes, and the work spread evenly. FIFO "
        "schedule: the same tasks given in submit order to the first free of the "
        f"{BATCH_CONCURRENCY} lanes, with no overhead at all; it ends later than the bound "
        "because the last tasks do not end together. Ours saves every image to disk; the "
        "loop downloads and decodes each. A slot frees when the server completes a task, so "
        "what separates ours from the FIFO schedule is how soon each completion is known: "
        "a poll's median 0.1 s, or the sync submit's answer."
    )
    fig.data.update(
        ours_wall=ours_wall,
        ours_ideal=ours_ideal,
        ours_fifo=ours_fifo,
        loop_wall=loop_wall,
        loop_ideal=loop_ideal,
        loop_fifo=loop_fifo,
        sync_wall=sync_wall,
        sync_ideal=sync_ideal,
    )
    return fig


SYNC_SHAPES = ("1K", "2K")


def sync_figure(bench: Bench) -> Figure:
    """``wait="sync"`` (POST /v1/tasks/sync: the server answers when the task ends) beside
    the poller and the loop, on the shapes where it matters most: short tasks."""
    settings = bench.settings
    rounds = settings.rounds or settings.repeat(8, 2)
    sides: dict[str, Callable[[str, int], Outcome]] = {
        "ours": bench.ours,
        "ours, wait=sync": lambda shape, i: bench.ours(shape, i, wait="sync"),
        "loop": bench.loop,
    }
    outcomes: list[Outcome] = []
    for r in range(rounds):
        order = list(sides.values())
        order = order[r % 3 :] + order[: r % 3]  # each side goes first as often as the others
        for side in order:
            outcomes += _together(
                [lambda s=s, side=side, r=r: side(s, 3000 + r) for s in SYNC_SHAPES]
            )
    bench.count_requests(outcomes)
    fig = Figure(
        "9",
        "wait='sync' beside the poller and the loop: completion → decoded images (s), requests",
        ["shape", "side", "median", "p95", "ratio to the loop", "requests per task"],
    )
    for shape in SYNC_SHAPES:
        picked = {
            name: [o for o in outcomes if o.shape == shape and o.strategy == name] for name in sides
        }
        loop_median = median([o.latency for o in picked["loop"]])
        for name, mine in picked.items():
            latencies = [o.latency for o in mine]
            fig.rows.append(
                [
                    shape,
                    name,
                    fmt(median(latencies), " s"),
                    fmt(p95(latencies), " s"),
                    times(ratio(median(latencies), loop_median)),
                    fmt(mean([o.requests for o in mine]), "", 2),
                ]
            )
    fig.notes.append(
        f"{rounds} tasks per shape and side; the side that goes first rotates round by round. "
        "The sync submit holds one connection open until the task ends (no polls); a "
        "connection lost meanwhile leaves a task whose id never arrived (kept as unconfirmed, "
        "never resubmitted), so the poller stays the default."
    )
    fig.data["tasks"] = [o.__dict__ for o in outcomes]
    return fig


def _fifo(durations: list[float], lanes: int) -> float:
    """The makespan of the tasks run in order, each on the first lane to free up."""
    free = [0.0] * lanes
    for seconds in durations:
        free[free.index(min(free))] += seconds
    return max(free)


def polling_figures(settings: Settings) -> list[Figure]:
    bench = Bench(settings)
    try:
        fig1, fig2 = latency_figures(bench)
        fig3 = batch_figure(bench)
        fig9 = sync_figure(bench)
    finally:
        bench.close()
    return [fig1, fig2, fig3, fig9]
