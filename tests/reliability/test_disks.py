"""A history that cannot be written refuses the submit — nothing is sent — with an error
naming the path and the fix; reading it gives a clear ``HistoryError``, never a raw sqlite3
error. Root ignores file permissions, so the homes here are made really full or read-only:
a tiny tmpfs mounted (or remounted read-only) for the test. Where ``mount`` is not allowed,
the same tests use what still fails for root: ``RLIMIT_FSIZE`` in a child process for a full
disk, a file in place of the folder for an unwritable home.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_tools import KEY, client_for

import seedream_jupyter as sj
from seedream_jupyter.api import resume
from seedream_jupyter.errors import HistoryError, HistoryWarning
from seedream_jupyter.session import session
from seedream_jupyter.store import Store, base

ONE_K = {"model": "4.0", "resolution": "1K"}
ROOT = Path(__file__).resolve().parents[2]


def _mount_works(probe: Path) -> bool:
    probe.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True
    )
    if done.returncode != 0:
        return False
    subprocess.run(["umount", "-l", str(probe)], check=False)
    return True


@pytest.fixture(scope="module")
def can_mount(tmp_path_factory: pytest.TempPathFactory) -> bool:
    return _mount_works(tmp_path_factory.mktemp("probe") / "mnt")


@contextlib.contextmanager
def tmpfs(path: Path, size_kb: int) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0700", "tmpfs", str(path)],
        check=True,
    )
    try:
        yield path
    finally:  # lazily: the history writer thread may still hold the database open
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount_read_only(path: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True)


@contextlib.contextmanager
def read_only_view(source: Path, view: Path) -> Iterator[Path]:
    """``source`` seen through a read-only bind mount (its files stay open elsewhere)."""
    view.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "--bind", str(source), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        yield view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def fill(path: Path, leave_bytes: int) -> Path:
    """Fill the file system holding ``path`` until ``leave_bytes`` are free."""
    filler = path / "filler.bin"
    free = os.statvfs(path).f_bavail * os.statvfs(path).f_frsize
    with open(filler, "ab") as handle, contextlib.suppress(OSError):
        handle.write(b"\0" * max(0, free - leave_bytes))
    return filler


def _refused(sim: Any, error: BaseException, home: Path) -> None:
    assert isinstance(error, HistoryError), repr(error)
    assert str(home) in str(error) and "Nothing was sent" in str(error)
    assert "SEEDREAM_HOME" in str(error)  # the fix is named
    assert sim.requests == []  # not one byte reached the server


def _generate(client: sj.Client) -> BaseException:
    with pytest.raises(sj.SeedreamError) as info:
        sj.generate("must not be sent", client=client, **ONE_K)
    return info.value


# -- a full disk -------------------------------------------------------------------------------
def test_a_full_disk_refuses_every_submit(
    start_simulator: Any, home: Path, can_mount: bool, figures: list[str]
) -> None:
    sim = start_simulator()
    client = client_for(sim)
    if not can_mount:
        _full_disk_in_a_child(sim, home)
        figures.append("full home: RLIMIT_FSIZE in a child (mount not allowed)")
        return
    with tmpfs(home, 2048):
        Store(home)  # an existing history, on a disk about to fill up
        fill(home, 40 * 1024)
        for _attempt in range(3):  # every time, not once per process
            _refused(sim, _generate(client), home)
        error = _generate(client)
        assert "KB free" in str(error)
        figures.append(f"full home (tmpfs, 40 KB free): 3/3 submits refused: {error.message[:90]}")


def test_48_kb_free_never_loses_a_paid_image(
    start_simulator: Any, home: Path, can_mount: bool, figures: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """With the free-space floor off (as if the disk filled during the run), whatever the
    disk can still take: either the submit is refused (nothing sent), or the task is recorded
    and its images, if they cannot be saved, are in the Result with a warning — and
    ``sj.resume()`` saves them once there is room."""
    sim = start_simulator()
    client = client_for(sim)
    if not can_mount:
        _full_disk_in_a_child(sim, home)
        return
    monkeypatch.setattr(base, "MIN_FREE_BYTES", 0)
    outcomes = []
    for leave in (48 * 1024, 160 * 1024, 4 * 1024):
        here = home / f"free-{leave}"
        with tmpfs(here, 1024):
            session().configure(home=str(here))
            Store(here)
            filler = fill(here, leave)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    result = sj.generate(f"{leave} bytes free", client=client, **ONE_K)
                except HistoryError as exc:
                    assert str(here) in str(exc)
                    outcomes.append(f"{leave // 1024} KB: refused")
                    continue
            assert result.images and len(result.images[0].size) == 2  # the bytes are in memory
            if not result.paths:
                assert any(issubclass(w.category, HistoryWarning) for w in caught)
            filler.unlink()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                resume(client=client)
            record = Store(here).get(result.task_id)
            assert record is not None and record.all_on_disk  # nothing paid for is lost
            how = "saved" if result.paths else "kept in memory + warning, then resumed to disk"
            outcomes.append(f"{leave // 1024} KB: sent, {how}")
    books = len(sim.task_ids())
    assert books == sum(1 for o in outcomes if "sent" in o)  # every server task is known
    figures.append("disk nearly full (tmpfs, floor off): " + "; ".join(outcomes))


_CHILD_FULL = """
import os, resource, signal, sys, warnings
warnings.simplefilter("ignore")
import seedream_jupyter as sj
from seedream_jupyter.store import Store
Store()  # the history exists; from now on no file may grow past 4 KB
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
client = sj.Client(api_key=sys.argv[2], base_url=sys.argv[1])
try:
    sj.generate("must not be sent", client=client, model="4.0", resolution="1K")
    print("SENT")
except sj.SeedreamError as exc:
    print(type(exc).__name__, exc)
"""


def _full_disk_in_a_child(sim: Any, home: Path) -> None:
    env = {**os.environ, "SEEDREAM_HOME": str(home), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD_FULL, sim.url, KEY],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.stdout.startswith("HistoryError"), out
    assert sim.requests == []


# -- a read-only home --------------------------------------------------------------------------
def test_a_read_only_home_refuses_submits_and_reads_clearly(
    start_simulator: Any, home: Path, can_mount: bool, figures: list[str]
) -> None:
    sim = start_simulator()
    client = client_for(sim)
    if not can_mount:  # a file where the folder should be: even root cannot write into it
        home.parent.mkdir(parents=True, exist_ok=True)
        home.write_text("not a folder")
        _refused(sim, _generate(client), home)
        with pytest.raises(HistoryError, match="not a folder"):
            sj.history()
        figures.append("read-only home: a file in place of the folder (mount not allowed)")
        return
    fresh = home / "fresh"
    with tmpfs(fresh, 256):
        remount_read_only(fresh)
        session().configure(home=str(fresh))
        _refused(sim, _generate(client), fresh)
        with pytest.raises(HistoryError, match="cannot be written"):
            sj.history()
    used = home / "used"
    with tmpfs(used, 32 * 1024):
        session().configure(home=str(used))
        first = sj.generate("made before the home went read-only", client=client, **ONE_K)
        with read_only_view(used, home / "used-ro") as view:
            session().configure(home=str(view))
            seen = sim.stats.submit_requests
            error = _generate(client)
            assert isinstance(error, HistoryError) and "cannot be written" in str(error), error
            assert sim.stats.submit_requests == seen  # nothing sent
            try:
                listed = [r.task_id for r in sj.history()]
                read = f"sj.history() still lists {len(listed)} task(s)"
                assert listed == [first.task_id]
            except HistoryError as exc:
                read = f"sj.history() -> HistoryError ({exc.message[:50]}...)"
    figures.append(f"read-only home (tmpfs ro, bind ro): both refuse submits; {read}")


# -- a damaged database ------------------------------------------------------------------------
def _history_with_rows(home: Path, rows: int) -> Path:
    store = Store(home)
    conn = sqlite3.connect(store.db_path)
    payload = json.dumps({"prompt": "x" * 200, "model": "doubao-seedream-4.0"})
    conn.executemany(
        "INSERT INTO tasks (task_id, payload, model, prompt, status, created_at, updated_at) "
        "VALUES (?, ?, 'doubao-seedream-4.0', ?, 'completed', 0, 0)",
        [(f"task-{i:05d}", payload, "x" * 200) for i in range(rows)],
    )
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    store.close()
    return store.db_path


@pytest.mark.parametrize("damage", ["header", "page"])
def test_a_damaged_database_is_a_clear_error(
    start_simulator: Any, home: Path, damage: str, figures: list[str]
) -> None:
    sim = start_simulator()
    client = client_for(sim)
    target = home / damage
    db = _history_with_rows(target, 400)
    data = bytearray(db.read_bytes())
    start = 0 if damage == "header" else len(data) // 2 // 4096 * 4096
    data[start : start + 4096] = b"\xab" * 4096
    db.write_bytes(bytes(data))
    session().configure(home=str(target))
    with pytest.raises(HistoryError) as info:
        sj.history()
    assert "damaged" in str(info.value) and str(db) in str(info.value)
    assert not isinstance(info.value, sqlite3.Error)
    try:
        sj.generate("on a damaged history", client=client, **ONE_K)
        sent = "the write still works: sent and recorded"
        assert Store(target).get(sim.task_ids()[0]) is not None
    except HistoryError as exc:
        _refused(sim, exc, target)
        sent = "refused, nothing sent"
    figures.append(f"damaged database ({damage}): sj.history() -> HistoryError; submit: {sent}")


def test_opting_out_of_the_history_generates_without_one(
    start_simulator: Any, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sim = start_simulator()
    client = client_for(sim)
    home.parent.mkdir(parents=True, exist_ok=True)
    home.write_text("not a folder")  # no history possible here
    _refused(sim, _generate(client), home)
    monkeypatch.setenv("SEEDREAM_HISTORY", "0")
    result = sj.generate("no history wanted", client=client, **ONE_K)
    assert result.paths == [] and result.images[0].size == (1024, 1024)  # in memory only
    monkeypatch.delenv("SEEDREAM_HISTORY")
    session().configure(history=False)
    assert len(sj.generate("again, by %config", client=client, **ONE_K).images) == 1
