"""A local simulator of the QWave task API for Seedream: a real HTTP server on loopback.

It answers the provider's endpoints with the provider's JSON shapes, validates requests with the
same catalog rules as the client (``GenerationRequest.from_payload``), simulates realistic
timing, draws procedural images at the true output size, and injects faults on demand, so the
notebooks, tests and benchmarks exercise the real client over real sockets. Every image says
SIMULATED: a synthetic image must never pass for a real one.

Use::

    from seedream_jupyter import simulator
    with simulator.start(speed=20, faults="429@get:0.3") as sim:
        ...  # point a client at sim.url; read sim.stats, sim.requests, sim.task(task_id)
    simulator.shared()  # the process-wide embedded default (SEEDREAM_SIM_SPEED sets its speed)

    python -m seedream_jupyter.simulator --port 8765 --speed 5 --faults "500:0.1"

Endpoints (newest wire form, see shared/wire-examples.md):

- ``POST /v1/tasks`` -> ``{task_id, model, action, status: "queued", created_at (ms), progress}``
- ``GET /v1/tasks/{id}`` -> the task, with ``urls {get, cancel}``; when completed,
  ``result.images[] = {url: [link], expires_at (s)}``, one entry per image (groups too);
  when failed, ``error {message, code: "task_failed"}``.
- ``POST /v1/tasks/sync[?timeout=S]`` -> waits (default 30 s / speed, at most 300 s) and returns
  the finished task, or ``{task_id, status, progress, poll_url: "/v1/tasks/<id>"}``.
- ``POST /v1/tasks/{id}/cancel`` -> ``{task_id, status: "cancelled", refunded: true,
  refunded_quota}`` for a queued task; any other state -> HTTP 400 ``task_not_cancellable``.
- ``GET /files/{id}/{i}.jpeg|png`` -> the image (drawn on first download, then cached);
  HTTP 410 ``url_expired`` once ``url_ttl`` seconds have passed since completion.
- Errors are ``{"error": {"message", "code", "type"}}``: 400 bad JSON or parameters, 401
  missing or wrong ``Authorization: Bearer`` key (only when ``api_key`` is set; downloads need
  no key), 404 unknown task or file, 405 wrong method. Unknown body fields are ignored.
- ``callback_url`` receives a POST of the final task JSON when a task ends (completed, failed
  or cancelled); delivery failures are ignored and counted in ``stats.callbacks_failed``.

Timing (divided by ``speed``): queued 0.8 s (or exactly ``queue_seconds``, unscaled), then
processing for 1 s + 0.45 s per output megapixel (at most 90 s), progress rising 1..99 as time
passes (computed on each GET, nothing ticks), then completed with progress 100. At speed 1 a
2K image takes about 3.7 s, a group of four 4K images about 31 s.

Faults (``faults=`` / ``--faults``; deterministic for a given ``fault_seed`` and request order):

- ``429``: HTTP 429 ``rate_limit_exceeded`` with ``Retry-After`` (``~SECONDS``, default 1);
  the request is not processed, a faulted submit creates no task. ``x BURST`` makes bursts.
  Default scopes: submit, sync, get, cancel.
- ``500`` / ``502`` / ``503``: HTTP 5xx (``internal_error`` / ``bad_gateway`` /
  ``service_unavailable``; 503 sends Retry-After only with ``~SECONDS``); the request is not
  processed. Default scopes: submit, sync, get, cancel.
- ``slow``: the answer is delayed by ``~SECONDS`` (default 2) before anything else. Default
  scopes: all, downloads included.
- ``drop``: the request is processed (a submit DOES create its task, as when a network fails
  after the server acted), then the connection closes after the headers and half the body.
  Default scopes: submit, sync, get, cancel (``drop@download`` also works).
- ``malformed``: the request is processed, and the answer is HTTP 200 whose body is not valid
  JSON. Scopes: submit, sync, get, cancel.
- ``fail``: decided when a task is created (scopes submit, sync): the task ends ``failed``
  halfway through processing, with ``error {code: "task_failed", message}``.
- ``truncate``: an image download promises the full Content-Length, sends half, and closes.
  Scope: download.
- ``expired``: decided when a task is created (scopes submit, sync): its result links are
  already expired (``expires_at`` = ``completed_at``) and every download answers HTTP 410.

Fault spec grammar::

    SPEC  := ITEM ("," ITEM)*
    ITEM  := NAME ["@" SCOPE ("+" SCOPE)*] [":" PROB] ["x" BURST] ["~" SECONDS] ["#" LIMIT]
    SCOPE := submit | sync | get | cancel | download | api (the first four) | all

``PROB`` (default 1) is the chance that one request in scope triggers the fault; ``BURST``
(default 1) extends a triggered fault to the next BURST-1 requests in its scopes; ``SECONDS``
is the Retry-After of 429/503 or the delay of ``slow``; ``LIMIT`` caps how many times the
fault fires in all (``500@submit#1``: only the first submit fails). Examples:
``"429:0.3x3~1,500@get:0.2"``, ``"slow@download~0.5"``, ``"fail:0.2,expired:1"``. A
simulator's plan can be replaced while it runs with ``handle.set_faults(spec)``.
"""

from __future__ import annotations

from .engine import SimConfig, TaskState
from .faults import FAULTS, FaultPlan, parse_spec
from .handle import SimulatorHandle, running_shared, shared, start, stop_shared
from .stats import RecordedRequest, Stats

__all__ = [
    "FAULTS",
    "FaultPlan",
    "RecordedRequest",
    "SimConfig",
    "SimulatorHandle",
    "Stats",
    "TaskState",
    "parse_spec",
    "running_shared",
    "shared",
    "start",
    "stop_shared",
]
