"""Every performance figure of seedream-jupyter, each beside its baseline in the same run.

    python benchmarks/run.py [--quick] [--json] [--out benchmarks/RESULTS.md]

1. completion -> decoded images at 1K, 2K, 4K and a 4-image group, vs the provider's 2 s loop
2. requests per task, counted at the server
3. a batch of 64 at concurrency 8, vs the ideal bound and vs the loop
4. .ipynb bytes per displayed 2K image, vs display(pil_image)
5. import seedream_jupyter and %load_ext, vs import httpx and a bare IPython shell
6. peak RSS while a 15 x 4K group is shown by each path, vs decoding all 15
7. a 4K thumbnail on each path, vs full decode + resize
8. simulator throughput (tasks/s), to show it is not the bottleneck of 1-3
plus the cost of one request with and without sniffio.

Everything runs against the embedded simulator over loopback; ours and the baseline are
interleaved and repeated, and medians, p95 and ratios are printed and written to RESULTS.md
with the machine, date and command. ``--quick`` is a smoke test of this script (a fast
simulator, few repeats): its figures are not the ones to quote. Targets are reported, never
asserted: this is a benchmark, not a timed test.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from common import ROOT, Figure, Settings, machine

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
FIGURES = ("polling", "startup", "display", "request", "throughput")


def run(settings: Settings, only: set[str]) -> list[Figure]:
    from display_figures import display_figures
    from polling_figures import polling_figures
    from startup_figures import request_figure, startup_figure, throughput_figure

    steps = {
        "polling": lambda: polling_figures(settings),
        "startup": lambda: [startup_figure(settings)],
        "display": lambda: display_figures(settings),
        "request": lambda: [request_figure(settings)],
        "throughput": lambda: [throughput_figure(settings)],
    }
    figures: list[Figure] = []
    for name in FIGURES:
        if name in only:
            started = time.monotonic()
            made = steps[name]()
            print(f"[{name}: {time.monotonic() - started:.0f} s]", file=sys.stderr)
            figures += made
    return sorted(figures, key=lambda f: (not f.number.isdigit(), f.number.zfill(3)))


def markdown(figures: list[Figure], info: dict[str, Any], command: str, seconds: float) -> str:
    lines = [
        "# seedream-jupyter performance",
        "",
        f"Written by `{command}` on {info['date']} in {seconds:.0f} s.",
        "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        f"load average at the start {info['load_average']}; Python {info['python']} on "
        f"{info['platform']}; httpx {info['httpx']}, Pillow {info['pillow']}.",
        "",
        "Every figure runs ours and its baseline interleaved in this one run, against the "
        "embedded simulator over loopback. Ratios are ours / baseline unless said otherwise.",
        "",
    ]
    met = [(f, text, ok) for f in figures for text, ok in f.targets]
    if met:
        lines += ["## Targets", "", "| figure | target | met |", "|---|---|---|"]
        lines += [f"| {f.number} | {text} | {'yes' if ok else 'NO'} |" for f, text, ok in met]
        lines.append("")
    for figure in figures:
        lines += [f"## {figure.number}. {figure.title}", ""]
        lines.append("| " + " | ".join(figure.columns) + " |")
        lines.append("|" + "---|" * len(figure.columns))
        lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in figure.rows]
        lines.append("")
        lines += [note for n in figure.notes for note in (n, "")]
    return "\n".join(lines)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="a fast smoke run (figures not to quote)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print every figure as JSON (the tables go to stderr)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help=f"where to write (default {RESULTS.relative_to(ROOT)})",
    )
    parser.add_argument("--rounds", type=int, help="tasks per shape and side in figures 1-2")
    parser.add_argument("--only", help=f"comma-separated groups to run: {','.join(FIGURES)}")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else set(FIGURES)
    unknown = only - set(FIGURES)
    if unknown:
        parser.error(
            f"unknown group(s) {', '.join(sorted(unknown))}; choose from {', '.join(FIGURES)}"
        )
    settings = Settings(quick=args.quick, rounds=args.rounds)
    command = "python benchmarks/run.py" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:])
    )
    info = machine()
    started = time.monotonic()
    figures = run(settings, only)
    seconds = time.monotonic() - started
    text = markdown(figures, info, command, seconds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(text, file=sys.stderr if args.json else sys.stdout)
    if args.json:
        payload = {
            "command": command,
            "machine": info,
            "seconds": seconds,
            "figures": [
                {
                    "number": f.number,
                    "title": f.title,
                    "columns": f.columns,
                    "rows": f.rows,
                    "targets": [{"target": t, "met": ok} for t, ok in f.targets],
                    "notes": f.notes,
                    "data": f.data,
                }
                for f in figures
            ],
        }
        print(json.dumps(_clean(payload)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
