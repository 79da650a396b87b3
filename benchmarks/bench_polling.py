"""Adaptive polling vs the provider's plain 2 s loop, side by side in one run.

For each task: how many status requests were made, and how long after the server
completed the task the client knew it (both clocks are this machine's). Run:

    python benchmarks/bench_polling.py [--tasks 12] [--speed 1]

Figures are printed, not asserted: this is a benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx

from seedream_jupyter import simulator
from seedream_jupyter.client import AsyncClient
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.task import Task

SHAPES = [
    ("doubao-seedream-4.0", "1K", 1),
    ("doubao-seedream-4.5", "2K", 1),
    ("doubao-seedream-5.0-lite", "3K", 1),
    ("doubao-seedream-4.5", "4K", 1),
    ("doubao-seedream-4.5", "2K", 3),
]


class CountingTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.startswith("/v1/tasks/"):
            self.gets += 1
        return await super().handle_async_request(request)


async def plain_loop(client: AsyncClient, task_id: str, interval: float = 2.0) -> Task:
    """What the provider's docs suggest: sleep 2 s, look, repeat."""
    while True:
        await asyncio.sleep(interval)
        task = await client.get(task_id)
        if task.is_terminal:
            return task


async def run_one(strategy: str, url: str, request: GenerationRequest) -> tuple[int, float]:
    transport = CountingTransport()
    async with AsyncClient(api_key="bench", base_url=url, transport=transport) as client:
        submitted = await client.submit(request)
        if strategy == "adaptive":
            done = await client.wait(submitted.task_id, timeout=600, just_submitted=True)
        else:
            done = await plain_loop(client, submitted.task_id)
        known_at = time.time()
        assert done.completed_at is not None
        return transport.gets, known_at - done.completed_at


async def main(tasks: int, speed: float) -> None:
    with simulator.start(speed=speed) as sim:
        jobs = []
        for i in range(tasks):
            model, resolution, n = SHAPES[i % len(SHAPES)]
            request = GenerationRequest(
                prompt=f"benchmark {i}", model=model, resolution=resolution, n=n, seed=i
            )
            for strategy in ("plain-2s", "adaptive"):  # interleaved: same load for both
                jobs.append((strategy, run_one(strategy, sim.url, request)))
        outcomes = await asyncio.gather(*(job for _, job in jobs))
    print(f"{tasks} tasks per strategy, simulator speed {speed}, run concurrently\n")
    print(f"{'strategy':<10} {'GETs/task':>10} {'latency mean':>13} {'p50':>7} {'max':>7}")
    rows = {}
    for strategy in ("plain-2s", "adaptive"):
        picked = [o for (s, _), o in zip(jobs, outcomes) if s == strategy]
        gets = statistics.mean(g for g, _ in picked)
        lat = [max(0.0, latency) for _, latency in picked]
        rows[strategy] = (gets, statistics.mean(lat))
        print(
            f"{strategy:<10} {gets:>10.2f} {statistics.mean(lat):>12.3f}s "
            f"{statistics.median(lat):>6.3f}s {max(lat):>6.3f}s"
        )
    (g0, l0), (g1, l1) = rows["plain-2s"], rows["adaptive"]
    print(f"\nadaptive/plain: requests x{g1 / g0:.2f}, latency after completion x{l1 / l0:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--speed", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(main(args.tasks, args.speed))
