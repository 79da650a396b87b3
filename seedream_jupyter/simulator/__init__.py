"""A local simulator of the QWave task API for Seedream: a real HTTP server on loopback.

It answers the provider's endpoints with the provider's JSON shapes, checks requests with its
own code written from the catalog and the API page (``checker``: it shares nothing with the
client's ``request`` module, so a client that builds a payload the provider would refuse is
caught), simulates realistic timing, draws procedural images at the true output size (or,
for fast tests, within ``image_side`` pixels), and injects faults on demand, so the notebooks,
tests and benchmarks exercise the real client over real sockets. Every image says SIMULATED:
a synthetic image must never pass for a real one. It imports nothing of the package but
``catalog``.

Use::

    from seedream_jupyter import simulator
    with simulator.start(speed=20, faults="429@get:0.3") as sim:
        ...  # point a client at sim.url; read sim.stats, sim.requests, sim.task(task_id)
    simulator.shared()  # the process-wide embedded default (SEEDREAM_SIM_SPEED sets its speed)
    with simulator.mock(speed=50) as sim:  # no socket: an httpx.MockTransport (see ``mock``)
        httpx.Client(base_url=sim.url, transport=sim.transport)

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
- Errors are ``{"error": {"message", "code", "type"}}``: 400 bad JSON or parameters
  (``invalid_parameter``, the message starts with the field: ``resolution: ...``; an unknown
  model is ``model_not_found``), 401 missing or wrong ``Authorization: Bearer`` key (only when
  ``api_key`` is set; downloads need no key), 404 unknown task or file, 405 wrong method.
- Every answer carries the ``catalog.SIMULATOR_HEADER`` header, ``1; speed=N`` (unless
  ``simulator_header=False``: then a client takes it for the real, billed API).
- ``callback_url`` receives a POST of the final task JSON when a task ends (completed, failed
  or cancelled); delivery failures are ignored and counted in ``stats.callbacks_failed``.

Requests: catalog model ids get the catalog's rules (aliases such as ``4.5`` are refused,
as the provider would); an id the catalog does not know that looks like Seedream
(``doubao-seedream-5.0-pro``) gets generic rules: every action, 1K-4K, every ratio, 14
references, jpeg or png. Upstream options (``optimize_prompt_options``, ``tools`` (5.0-lite),
``response_format``, ``stream``, ``guidance_scale``, anything in ``extra``) are accepted as top-
level keys or inside an ``extra`` object; an ``extra`` key naming a checked field (``seed``) is a
400. ``handle.task(id)`` shows the ``body`` received, its ``extra`` and its ``upstream`` options
with their placement (``extra`` / ``top-level``); the wire never echoes them.

Timing (divided by ``speed``): queued 0.8 s (or exactly ``queue_seconds``, unscaled), then
processing for 1 s + 0.45 s per output megapixel (at most 90 s), progress rising 1..99 as time
passes (computed on each GET, nothing ticks), then completed with progress 100. At speed 1 a
2K image takes about 3.7 s, a group of four 4K images about 31 s. Each task's durations are
multiplied by lognormal factors of mean 1 and sigma ``jitter`` (default 0.25; 0 = exact), drawn
from ``timing_seed`` and the task's number, so runs repeat. At most ``capacity`` tasks (default
16; None = unlimited) process at once: a task whose queue time is over stays ``queued`` until a
slot frees (first come, first served), so a queue forms under load; a start time is fixed at
submit and revised only when a waiting task is cancelled.

Wire shapes (``wire=``): ``newest`` (above); ``legacy``, the older documented shapes: ids
``task_<ULID>``, timestamps in seconds, ``start_time``, no ``urls``, ``url`` a plain string,
``result.videos: []``, a group as ONE images entry whose ``url`` list holds every link;
``envelope``, the oldest submit answer ``{"code": "success", "data": "<task_id>"}``;
``legacy+envelope`` both.

Faults (``faults=`` / ``--faults``; deterministic for a given ``fault_seed`` and request order):

- ``429``: HTTP 429 ``rate_limit_exceeded`` with ``Retry-After`` (``~SECONDS``, default 1);
  the request is not processed, a faulted submit creates no task. ``x BURST`` makes bursts.
  Default scopes: submit, sync, get, cancel.
- ``500`` / ``502`` / ``503``: HTTP 5xx (``internal_error`` / ``bad_gateway`` /
  ``service_unavailable``; 503 sends Retry-After only with ``~SECONDS``); the request is not
  processed. Default scopes: submit, sync, get, cancel.
- ``slow``: the answer is delayed by ``~SECONDS`` (default 2) before anything else. Default
  scopes: all, downloads included.
- ``slowheaders``: the request is processed, then the status line and headers go out one byte
  every ``~SECONDS`` (default 1): per-read timeouts never fire, only a total deadline helps.
  Default scopes: all.
- ``drop``: the request is processed (a submit DOES create its task, as when a network fails
  after the server acted), then the connection closes after the headers and half the body.
  Default scopes: submit, sync, get, cancel (``drop@download`` also works).
- ``malformed``: the request is processed, and the answer is HTTP 200 whose body is not valid
  JSON. Scopes: submit, sync, get, cancel.
- ``nested``: the request is processed, and the answer is HTTP 200 with valid JSON nested
  200 000 levels deep (``[[[[...]]]]``). Scopes: submit, sync, get, cancel.
- ``reuse``: a submit creates its task but answers with the id of the task created before it
  (two submits, one id). Scope: submit.
- ``wrongid``: a poll answers with another existing task's JSON. Scope: get.
- ``fail``: decided when a task is created (scopes submit, sync): the task ends ``failed``
  halfway through processing, with ``error {code: "task_failed", message}``.
- ``expired``: decided when a task is created: its result links are already expired
  (``expires_at`` = ``completed_at``) and every download answers HTTP 410.
- ``zero``: decided when a task is created: it completes with ``result.images: []``.
- ``surplus``: decided when a task is created: it completes with two images more than asked.
- ``echokey``: decided when a task is created: it fails, and ``error.message`` echoes the
  submit's ``Authorization`` header verbatim (a server that leaks the key back).
- ``private``: decided when a task is created: its result links point at link-local or private
  addresses (``http://169.254.169.254/latest/meta-data/...``, ``http://10.0.0.1/...``).
- ``truncate``: an image download promises the full Content-Length, sends half, and closes.
  Scope: download.
- ``endless``: an image answer with no Content-Length (chunked) whose body never ends: garbage
  until the client disconnects (the server thread then stops). Scope: download.
- ``bomb``: the image is a PNG of a few KB whose header claims 60000 x 60000 pixels (a
  decompression bomb). Scope: download.
- ``badimage``: HTTP 200 ``image/jpeg`` whose body is a JPEG header followed by noise
  (undecodable). Scope: download.

Fault spec grammar::

    SPEC  := ITEM ("," ITEM)*
    ITEM  := NAME ["@" SCOPE ("+" SCOPE)*] [":" PROB] ["x" BURST] ["~" SECONDS] ["#" LIMIT]
    SCOPE := submit | sync | get | cancel | download | api (the first four) | all

``PROB`` (default 1) is the chance that one request in scope triggers the fault; ``BURST``
(default 1) extends a triggered fault to the next BURST-1 requests in its scopes; ``SECONDS``
is the Retry-After of 429/503, the delay of ``slow`` or the byte pace of ``slowheaders``;
``LIMIT`` caps how many times the fault fires in all (``500@submit#1``: only the first submit
fails). Examples: ``"429:0.3x3~1,500@get:0.2"``, ``"slow@download~0.5"``,
``"fail:0.2,expired:1"``. A simulator's plan can be replaced while it runs with
``handle.set_faults(spec)``. With ``mock``, faults that need a socket become httpx exceptions
(see ``simulator.mock``).
"""

from __future__ import annotations

from .checker import SimRequest
from .engine import TaskState
from .faults import FAULTS, FaultPlan, parse_spec
from .handle import SimulatorHandle, running_shared, shared, start, stop_shared
from .mock_transport import MockSimulator, mock
from .options import SimConfig
from .stats import RecordedRequest, Stats
from .upstream import UpstreamOption

__all__ = [
    "FAULTS",
    "FaultPlan",
    "MockSimulator",
    "RecordedRequest",
    "SimConfig",
    "SimRequest",
    "SimulatorHandle",
    "Stats",
    "TaskState",
    "UpstreamOption",
    "mock",
    "parse_spec",
    "running_shared",
    "shared",
    "start",
    "stop_shared",
]
