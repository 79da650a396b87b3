"""``python -m seedream_jupyter.simulator``: serve the simulator until SIGINT / SIGTERM.

The first line of standard output is the base URL (flushed at once), so a parent process can
read it and connect.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .faults import FAULTS, help_text, parse_spec
from .handle import start
from .shapes import WireStyle
from .timing import DEFAULT_CAPACITY, DEFAULT_JITTER

DESCRIPTION = """\
Run the QWave task API simulator for Seedream on this machine: a real HTTP server implementing
POST /v1/tasks, GET /v1/tasks/{id}, POST /v1/tasks/sync and POST /v1/tasks/{id}/cancel, plus
image downloads under /files/. Images are drawn procedurally at the true output size and say
SIMULATED. Prints the base URL on the first line of stdout, then serves until Ctrl-C / SIGTERM.
"""

EPILOG = f"""\
fault spec grammar:
  SPEC  := ITEM ("," ITEM)*
  ITEM  := NAME ["@" SCOPE ("+" SCOPE)*] [":" PROB] ["x" BURST] ["~" SECONDS] ["#" LIMIT]
  SCOPE := submit | sync | get | cancel | download | api (= first four) | all
  PROB is the chance per request in scope (default 1); BURST extends a triggered fault to the
  next BURST-1 requests (429 bursts); SECONDS is the Retry-After of 429/503, the slow delay or
  the slowheaders pause between header bytes;
  LIMIT caps how often the fault fires in all ("500@submit#1": only the first submit fails).
  Decisions are deterministic for a given --fault-seed and request order.

faults:
{help_text()}

examples:
  python -m seedream_jupyter.simulator --port 8765 --speed 5
  python -m seedream_jupyter.simulator --faults "429:0.3x3~1,500@get:0.1,fail:0.2" --fault-seed 7
  python -m seedream_jupyter.simulator --capacity 2 --jitter 0 --wire legacy+envelope
"""


def _faults(value: str) -> str:
    try:
        parse_spec(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def _non_negative(value: str) -> float:
    number = float(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return number


def _capacity(value: str) -> int | None:
    if value.strip().lower() in ("none", "0", "unlimited"):
        return None
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 (or 'none'), got {value}")
    return number


def _wire(value: str) -> str:
    try:
        WireStyle.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m seedream_jupyter.simulator",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)"
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port to bind; 0 picks a free port (default 0)"
    )
    parser.add_argument(
        "--speed",
        type=_positive,
        default=1.0,
        help="divides every duration: 1 is realistic (a 2K image in ~3.7 s), 20 is fast "
        "(default 1)",
    )
    parser.add_argument(
        "--faults",
        type=_faults,
        default=None,
        metavar="SPEC",
        help=f"faults to inject, e.g. '429:0.3,500@get:0.1' (names: {', '.join(FAULTS)}; "
        "see below)",
    )
    parser.add_argument(
        "--fault-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the fault draws: same seed + same requests = same faults (default 0)",
    )
    parser.add_argument(
        "--api-key",
        default=None,
        metavar="KEY",
        help="require 'Authorization: Bearer KEY' on API requests (default: no auth)",
    )
    parser.add_argument(
        "--url-ttl",
        type=_non_negative,
        default=86400.0,
        metavar="SECONDS",
        help="result image links expire this long after completion (default 86400 = 24 h)",
    )
    parser.add_argument(
        "--queue-seconds",
        type=_non_negative,
        default=None,
        metavar="SECONDS",
        help="keep every task queued exactly this long, not scaled by --speed (default: "
        "0.8 s / speed)",
    )
    parser.add_argument(
        "--sync-timeout",
        type=_non_negative,
        default=None,
        metavar="SECONDS",
        help="how long POST /v1/tasks/sync waits by default (default: 30 s / speed)",
    )
    parser.add_argument(
        "--jitter",
        type=_non_negative,
        default=DEFAULT_JITTER,
        metavar="SIGMA",
        help="spread of each task's durations around the means (lognormal sigma; 0 = exact; "
        f"default {DEFAULT_JITTER:g})",
    )
    parser.add_argument(
        "--timing-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the timing jitter: same seed + same submits = same durations (default 0)",
    )
    parser.add_argument(
        "--capacity",
        type=_capacity,
        default=DEFAULT_CAPACITY,
        metavar="SLOTS",
        help="how many tasks process at once; the rest stay queued ('none' = unlimited; "
        f"default {DEFAULT_CAPACITY})",
    )
    parser.add_argument(
        "--wire",
        type=_wire,
        default="newest",
        metavar="STYLE",
        help="response shapes: newest, legacy (older task shapes), envelope (oldest submit "
        "answer) or legacy+envelope (default newest)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sim = start(
        host=args.host,
        port=args.port,
        speed=args.speed,
        faults=args.faults,
        fault_seed=args.fault_seed,
        api_key=args.api_key,
        url_ttl=args.url_ttl,
        queue_seconds=args.queue_seconds,
        sync_timeout=args.sync_timeout,
        jitter=args.jitter,
        timing_seed=args.timing_seed,
        capacity=args.capacity,
        wire=args.wire,
        verbose=args.verbose,
    )
    print(sim.url, flush=True)
    print(
        f"QWave simulator (SIMULATED images) speed={args.speed:g} "
        f"faults={sim.faults.describe()} auth={'on' if args.api_key else 'off'} "
        f"capacity={args.capacity} wire={args.wire}; "
        "Ctrl-C to stop",
        file=sys.stderr,
        flush=True,
    )
    try:
        while not done.wait(0.5):
            pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
