"""What every figure shares: statistics, the machine, the simulator, fresh child processes."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the checkout's package, not an installed copy
    sys.path.insert(0, str(ROOT))


@dataclass
class Settings:
    """How hard to run: ``--quick`` shrinks every figure to a smoke test of the script."""

    quick: bool = False
    rounds: int | None = None  # repetitions of the polling figures (None: the mode's default)

    @property
    def speed(self) -> float:
        """Simulator speed for the polling figures: real time, except in a quick run."""
        return 8.0 if self.quick else 1.0

    def repeat(self, full: int, quick: int) -> int:
        return quick if self.quick else full


@dataclass
class Figure:
    """One figure: a table (rows of cells), the targets it checks, and notes."""

    number: str
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    targets: list[tuple[str, bool | None]] = field(default_factory=list)  # (text, met)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # raw figures for --json

    def target(self, text: str, met: bool | None) -> None:
        self.targets.append((text, met))


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (nearest rank)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def ratio(ours: float, base: float) -> float:
    return ours / base if base else math.nan


def fmt(value: Any, unit: str = "", digits: int = 3) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}f}{unit}"
    return f"{value}{unit}"


def times(value: float) -> str:
    return "–" if math.isnan(value) else f"×{value:.2f}"


def interleaved(runs: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Each callable ``repeats`` times, in alternating order (ABBA...), so drift in the
    machine's load hits every side alike; returns the seconds of each run."""
    names = list(runs)
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(repeats):
        for name in names if i % 2 == 0 else reversed(names):
            out[name].append(runs[name]())
    return out


def child(code: str, env: dict[str, str] | None = None, timeout: float = 300) -> Any:
    """Run ``code`` in a fresh interpreter (the checkout first on its path); the JSON it
    prints on its last line."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [environment.get("PYTHONPATH")])]
    )
    environment.update(env or {})
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    import httpx
    import PIL

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory,
        "load_average": [round(x, 2) for x in load] if load else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "httpx": httpx.__version__,
        "pillow": PIL.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def predraw(sim: Any, task_id: str) -> bool:
    """Have the simulator draw a task's images now, before anyone downloads them.

    A real provider serves finished images from storage; the simulator draws each on its
    first download (60 ms for 1K, 225 ms for 4K on the reference machine), which would add
    the same constant to both sides of a latency figure and hide the poller's share. This
    reaches into the simulator (benchmark-only): it returns False when that is not possible.
    """
    try:
        engine = sim._sim
        task = engine.lookup(task_id)
        pictures = engine.pictures
        from seedream_jupyter.simulator import drawing

        for index in range(task.image_count):
            picture = pictures.picture(task, index)
            pictures.cache.get_or_create((task_id, index), lambda p=picture: drawing.render(p, []))
    except Exception:
        return False
    return True
