"""Every simulator fault × where it strikes (submit / poll / download) → one documented outcome.

Each fault fires on every request in its scope (the worst case). A cell runs ``sj.generate``
once and checks: the error raised (or the Result), how long it took (bounded by ``timeout``),
the history row left (``none``: the server provably created nothing; ``unconfirmed``: a
submit whose id never arrived, "may be billed"; ``pending``: resumable), that the server saw
at most one task for the prompt (no duplicate submit), that every task the server created is
in the history, that the key is nowhere (error text, SQLite and its WAL, image files), and —
for the cells marked resumable — that ``sj.resume()`` finishes the task once the fault stops.

The table (also in the README's Reliability section):

=============  ========  =============================================  ===========  ======
fault          where     outcome                                        history      resume
=============  ========  =============================================  ===========  ======
429 ~0.05      submit    RateLimitError after 3 tries (not accepted)    none         -
500/502/503    submit    ServerError, maybe_submitted (not retried)     unconfirmed  -
slow ~2        submit    ConnectionFailedError at timeout=1 s           unconfirmed  -
slowheaders    submit    ConnectionFailedError at timeout=1.5 s         unconfirmed  -
drop           submit    ConnectionFailedError, maybe_submitted         unconfirmed  -
malformed      submit    APIError (not JSON), maybe_submitted           unconfirmed  -
nested         submit    APIError (not JSON), maybe_submitted           unconfirmed  -
reuse          submit    APIError (id of an earlier task), flagged      unconfirmed  -
fail           submit    TaskFailedError                                failed       -
zero           submit    TaskFailedError [no_images], billed $0         failed       -
surplus        submit    Result of the 1 asked for (warning), billed 1  completed    -
expired        submit    ImageDownloadError (HTTP 410)                  completed    fails
echokey        submit    TaskFailedError, the key redacted everywhere   failed       -
private        submit    ImageDownloadError (not fetched)               completed    fails
429/5xx        poll      RateLimitError / ServerError after 3 tries     pending      yes
slow ~0.05     poll      Result                                         completed    -
slowheaders    poll      TaskTimeoutError at timeout=2 s                pending      yes
drop           poll      ConnectionFailedError after 3 tries            pending      yes
malformed      poll      APIError after 3 tries                         pending      yes
nested         poll      APIError after 3 tries                         pending      yes
wrongid        poll      APIError (answer about another task)           pending      yes
429/5xx        download  ImageDownloadError after 3 tries               completed    yes
slow ~0.05     download  Result                                         completed    -
slowheaders    download  ImageDownloadError at timeout=3 s              completed    yes
drop           download  ImageDownloadError after 3 tries               completed    yes
truncate       download  ImageDownloadError (incomplete) after 3 tries  completed    yes
endless        download  ImageDownloadError (over max_image_bytes)      completed    yes
bomb           download  ImageRefusedError (recorded, never refetched)  completed    no
badimage       download  ImageRefusedError (recorded, never refetched)  completed    no
=============  ========  =============================================  ===========  ======

Faults that cannot strike somewhere (a task fault on a poll, ``truncate`` on a submit, ...)
are listed by ``test_the_matrix_covers_every_fault``. ``sync`` (POST /v1/tasks/sync) is not a
path the helpers take.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import pytest
from reliability_tools import KEY, account, client_for, leaks

import seedream_jupyter as sj
from seedream_jupyter.api import resume
from seedream_jupyter.client import retry
from seedream_jupyter.errors import ImageRefusedError
from seedream_jupyter.simulator import FAULTS
from seedream_jupyter.store import Store

ONE_K = {"model": "4.0", "resolution": "1K"}


@dataclass(frozen=True)
class Cell:
    fault: str
    where: str  # submit / poll / download
    spec: str
    error: type[BaseException] | None  # None: a Result
    row: str  # none / unconfirmed / pending / completed / failed
    resumed: bool | None = None  # after the fault stops, resume saves it (False: it must not)
    timeout: float = 20.0
    before: int = 0  # tasks made first (reuse and wrongid need another task)
    client: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.fault}@{self.where}"


E = sj
CELLS = [
    Cell("429", "submit", "429@submit~0.05", E.RateLimitError, "none"),
    *(
        Cell(s, "submit", f"{s}@submit", E.ServerError, "unconfirmed")
        for s in ("500", "502", "503")
    ),
    Cell("slow", "submit", "slow@submit~2", E.ConnectionFailedError, "unconfirmed", timeout=1),
    Cell(
        "slowheaders",
        "submit",
        "slowheaders@submit~0.3",
        E.ConnectionFailedError,
        "unconfirmed",
        timeout=1.5,
    ),
    Cell("drop", "submit", "drop@submit", E.ConnectionFailedError, "unconfirmed"),
    Cell("malformed", "submit", "malformed@submit", E.APIError, "unconfirmed"),
    Cell("nested", "submit", "nested@submit", E.APIError, "unconfirmed"),
    Cell("reuse", "submit", "reuse@submit", E.APIError, "unconfirmed", before=1),
    Cell("fail", "submit", "fail@submit", E.TaskFailedError, "failed"),
    Cell("zero", "submit", "zero@submit", E.TaskFailedError, "failed"),
    Cell("surplus", "submit", "surplus@submit", None, "completed"),
    Cell("expired", "submit", "expired@submit", E.ImageDownloadError, "completed", resumed=False),
    Cell("echokey", "submit", "echokey@submit", E.TaskFailedError, "failed"),
    Cell("private", "submit", "private@submit", E.ImageDownloadError, "completed", resumed=False),
    Cell("429", "poll", "429@get~0.02", E.RateLimitError, "pending", resumed=True),
    *(
        Cell(s, "poll", f"{s}@get", E.ServerError, "pending", resumed=True)
        for s in ("500", "502", "503")
    ),
    Cell("slow", "poll", "slow@get~0.05", None, "completed"),
    Cell(
        "slowheaders",
        "poll",
        "slowheaders@get~0.5",
        E.TaskTimeoutError,
        "pending",
        resumed=True,
        timeout=2,
    ),
    Cell("drop", "poll", "drop@get", E.ConnectionFailedError, "pending", resumed=True),
    Cell("malformed", "poll", "malformed@get", E.APIError, "pending", resumed=True),
    Cell("nested", "poll", "nested@get", E.APIError, "pending", resumed=True),
    Cell("wrongid", "poll", "wrongid@get", E.APIError, "pending", resumed=True, before=1),
    Cell("429", "download", "429@download~0.02", E.ImageDownloadError, "completed", resumed=True),
    *(
        Cell(s, "download", f"{s}@download", E.ImageDownloadError, "completed", resumed=True)
        for s in ("500", "502", "503")
    ),
    Cell("slow", "download", "slow@download~0.05", None, "completed"),
    Cell(
        "slowheaders",
        "download",
        "slowheaders@download~0.5",
        E.ImageDownloadError,
        "completed",
        resumed=True,
        timeout=3,
    ),
    Cell("drop", "download", "drop@download", E.ImageDownloadError, "completed", resumed=True),
    Cell(
        "truncate", "download", "truncate@download", E.ImageDownloadError, "completed", resumed=True
    ),
    Cell(
        "endless",
        "download",
        "endless@download",
        E.ImageDownloadError,
        "completed",
        resumed=True,
        client={"max_image_bytes": 2 * 2**20},
    ),
    Cell("bomb", "download", "bomb@download", ImageRefusedError, "completed", resumed=False),
    Cell(
        "badimage", "download", "badimage@download", ImageRefusedError, "completed", resumed=False
    ),
]


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Full-jitter backoff waits up to 8 s; the matrix checks outcomes, not patience."""
    monkeypatch.setattr(retry, "backoff", lambda tries: 0.01)


def _wait_for(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.parametrize("cell", CELLS, ids=[c.id for c in CELLS])
def test_fault_cell(cell: Cell, start_simulator: Any, home: Any, figures: list[str]) -> None:
    sim = start_simulator()
    client = client_for(sim, max_retries=2, **cell.client)
    for index in range(cell.before):
        sj.generate(f"before {index}", client=client, **ONE_K)
    sim.set_faults(cell.spec)
    prompt = f"matrix {cell.id}"
    started = time.monotonic()
    error: BaseException | None = None
    result = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = sj.generate(prompt, client=client, timeout=cell.timeout, **ONE_K)
        except sj.SeedreamError as exc:
            error = exc
    elapsed = time.monotonic() - started
    assert elapsed < cell.timeout + 3, f"{cell.id} took {elapsed:.1f} s"
    if cell.error is None:
        assert error is None, f"{cell.id}: {error!r}"
    else:
        assert type(error) is cell.error, f"{cell.id}: {error!r}"
        assert KEY not in str(error)
    mine = [r for r in Store().history() if r.prompt == prompt]
    if cell.row == "none":
        assert mine == []
    else:
        (record,) = mine
        state = "pending" if record.is_pending else record.status
        assert state == cell.row, f"{cell.id}: {state} ({record.error_message})"
        if state in ("failed", "unconfirmed"):
            assert record.error_message  # a reason, always
    _check_specifics(cell, sim, error, result, mine, caught)
    if cell.resumed is not None:
        sim.set_faults(None)
        downloads = sim.stats.downloads
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            done = resume(client=client, timeout=20)
        again = Store().get(mine[0].task_id)
        assert again is not None
        if cell.resumed:
            assert [r.task_id for r in done] == [again.task_id]
            assert again.status == "completed" and again.all_on_disk
        elif cell.fault in ("bomb", "badimage"):
            assert sim.stats.downloads == downloads  # a refused image is never fetched again
    if cell.fault in ("slow", "slowheaders") and cell.where == "submit":
        _wait_for(lambda: len(sim.task_ids()) == 1 + cell.before)  # it arrives after we gave up
    books = account(sim, Store())
    assert not books.unrecorded and not books.duplicates and not books.phantoms, books.line()
    assert leaks(home) == []
    outcome = "Result" if error is None else type(error).__name__
    figures.append(f"matrix {cell.id:<22} -> {outcome:<22} {cell.row:<11} {elapsed:5.2f} s")


def _check_specifics(
    cell: Cell, sim: Any, error: Any, result: Any, mine: list[Any], caught: list[Any]
) -> None:
    """What else a cell promises."""
    fault, where = cell.fault, cell.where
    if where == "submit" and cell.row in ("none", "unconfirmed"):
        assert error.maybe_submitted is (cell.row == "unconfirmed")
    if fault == "429" and where == "submit":
        assert sim.stats.submit_requests == 3 and sim.stats.submits == 0
    elif where == "submit" and cell.row == "unconfirmed":
        assert sim.stats.submit_requests == 1 + cell.before  # never sent twice
    if fault == "reuse":
        first = Store().history(status="completed")
        assert [r.prompt for r in first] == ["before 0"] and first[0].all_on_disk  # untouched
        assert "an earlier submit already received" in (mine[0].error_message or "")
    if fault == "zero":
        assert error.code == "no_images" and mine[0].cost_usd == 0
    if fault == "surplus":
        assert len(result) == 1 and result.cost_usd == pytest.approx(mine[0].cost_usd)
        assert mine[0].n_returned == 3 and len(mine[0].images) == 1
        assert any("not the 2 extra" in str(w.message) for w in caught)
    if fault == "echokey":
        assert "[REDACTED]" in (error.server_message or "")
        assert "[REDACTED]" in (mine[0].error_message or "")
    if fault in ("bomb", "badimage"):
        assert error.task_id == mine[0].task_id and len(mine[0].refused) == 1
        assert not mine[0].paths
    if fault == "endless":
        assert "larger than 2 MB" in str(error)
    if fault == "private":
        assert "private or local address" in str(error)


def test_the_matrix_covers_every_fault() -> None:
    """Each simulator fault has cells wherever it can strike the helpers' path."""
    covered = {(c.fault, c.where) for c in CELLS}
    scope_of = {"submit": "submit", "get": "poll", "download": "download"}
    expected = set()
    for name, kind in FAULTS.items():
        for scope in kind.allowed:
            if scope in scope_of:
                expected.add((name, scope_of[scope]))
    # task faults are decided at the submit; where they show (poll, download) is their cell
    assert expected == covered, sorted(expected ^ covered)
