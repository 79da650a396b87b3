"""benchmarks/run.py --quick runs end to end and writes every figure (timings never asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = {"1", "2", "3", "4", "5", "6", "7", "8", "9", "extra"}


def test_quick_run_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    env = dict(os.environ, PYTHONPATH=str(ROOT), SEEDREAM_HOME=str(tmp_path / "home"))
    env.pop("WAVE_API_KEY", None)
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/run.py",
            "--quick",
            "--rounds",
            "1",
            "--json",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert {figure["number"] for figure in report["figures"]} == FIGURES
    for figure in report["figures"]:
        assert figure["rows"], figure["title"]
        assert all(len(row) == len(figure["columns"]) for row in figure["rows"]), figure["title"]
    assert report["machine"]["cores"] and report["machine"]["date"]
    text = out.read_text()
    assert "python benchmarks/run.py --quick" in text and "Machine:" in text
    for number in sorted(FIGURES - {"extra"}):
        assert f"\n## {number}. " in text
    assert "\n## extra. " in text
    assert "## Targets" in text


def test_unknown_group_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--only", "nonsense"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown group" in done.stderr and "polling" in done.stderr
