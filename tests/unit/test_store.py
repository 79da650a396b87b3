"""The history store: rows, image files, provenance, cache look-ups, spend, prune, concurrency."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import multiprocessing
import os
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seedream_jupyter.errors import HistoryError, SeedreamError
from seedream_jupyter.request import GenerationRequest
from seedream_jupyter.session import session
from seedream_jupyter.store import Store, files, provenance, schema
from seedream_jupyter.task import ImageRef, Task, TaskStatus

SERVER = "https://www.qingbo.dev"
SENTINEL_KEY = "sk-SENTINEL-do-not-store-4242"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("SEEDREAM_HOME", str(path))
    monkeypatch.setenv("WAVE_API_KEY", SENTINEL_KEY)
    return path


@pytest.fixture
def store(home: Path) -> Store:
    return Store(home)


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (48, 32), seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt)
    return buffer.getvalue()


def req(prompt: str = "a red fox in snow", **kw: object) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, **kw)  # type: ignore[arg-type]


def complete(
    store: Store,
    task_id: str,
    request: GenerationRequest,
    *,
    images: int = 1,
    base_url: str = SERVER,
    simulated: bool = False,
    save: bool = True,
) -> list[Path]:
    """Submit, complete and (optionally) save images for one task, as the api does."""
    store.record_submitted(Task(task_id), request, base_url=base_url, simulated=simulated)
    refs = tuple(
        ImageRef(f"{base_url}/files/{task_id}/{i}.png", time.time() + 3600) for i in range(images)
    )
    store.record_state(Task(task_id, TaskStatus.COMPLETED, 100, images=refs))
    paths = []
    if save:
        for i, ref in enumerate(refs):
            data = image_bytes(seed=hash((task_id, i)) % 1000)
            paths.append(
                store.save_image(
                    task_id, i, data, url=ref.url, expires_at=ref.expires_at, request=request
                )
            )
    return paths


# -- rows -------------------------------------------------------------------------------------
def test_schema_is_versioned_and_in_wal_mode(store: Store) -> None:
    conn = sqlite3.connect(store.db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(SeedreamError, match="newer seedream-jupyter"):
        Store(store.home)


def test_submit_row_then_state_updates(store: Store) -> None:
    request = req(seed=7, n=2)
    store.record_submitted(Task("task-1"), request, base_url=SERVER, simulated=False)
    rec = store.get("task-1")
    assert rec is not None
    assert rec.status == "queued" and rec.progress == 0 and rec.is_pending
    assert rec.payload == request.to_payload()
    assert rec.request == request
    assert (rec.model, rec.action, rec.prompt, rec.seed) == (
        "doubao-seedream-4.5",
        "generate",
        "a red fox in snow",
        7,
    )
    assert rec.cost_usd == pytest.approx(request.estimate_cost())
    assert rec.base_url == SERVER and rec.simulated is False
    assert rec.completed_at is None and rec.images == ()

    store.record_state(Task("task-1", TaskStatus.PROCESSING, 40))
    rec = store.get("task-1")
    assert rec is not None and (rec.status, rec.progress) == ("processing", 40)

    refs = (ImageRef("https://x/a.jpeg", 2e9), ImageRef("https://x/b.jpeg", 2e9))
    store.record_state(Task("task-1", TaskStatus.COMPLETED, 100, completed_at=1.8e9, images=refs))
    # a stale poll answered after the final one must not undo it
    store.record_state(Task("task-1", TaskStatus.PROCESSING, 90))
    rec = store.get("task-1")
    assert rec is not None
    assert rec.status == "completed" and rec.progress == 100 and not rec.is_pending
    assert rec.completed_at == 1.8e9
    assert [(i.index, i.url, i.expires_at, i.path) for i in rec.images] == [
        (0, "https://x/a.jpeg", 2e9, None),
        (1, "https://x/b.jpeg", 2e9, None),
    ]
    assert rec.to_task().urls == ["https://x/a.jpeg", "https://x/b.jpeg"]


def test_failed_task_keeps_error(store: Store) -> None:
    store.record_submitted(Task("t-f"), req(), base_url=SERVER, simulated=False)
    store.record_state(
        Task("t-f", TaskStatus.FAILED, error_code="task_failed", error_message="content policy")
    )
    rec = store.get("t-f")
    assert rec is not None
    assert (rec.status, rec.error_code, rec.error_message) == (
        "failed",
        "task_failed",
        "content policy",
    )
    assert rec.completed_at is not None


def test_group_cost_lowered_to_images_returned(store: Store) -> None:
    request = req(action="group", max_images=4)
    complete(store, "t-g", request, images=2, save=False)
    rec = store.get("t-g")
    assert rec is not None
    assert rec.cost_usd == pytest.approx(2 * request.spec.price_per_image_usd)


def test_unknown_task_is_adopted(store: Store) -> None:
    store.record_state(Task("stranger", TaskStatus.PROCESSING, 10, model="doubao-seedream-4.0"))
    rec = store.get("stranger")
    assert rec is not None and rec.status == "processing" and rec.payload == {}
    assert rec.request.model == "doubao-seedream-4.0"  # rebuilt without validation
    assert store.get("nobody") is None


def test_data_uri_inputs_live_in_files_not_rows(store: Store) -> None:
    ref = image_bytes("PNG", (300, 300), seed=3)
    uri = "data:image/png;base64," + base64.b64encode(ref).decode()
    request = req(action="image2image", image_urls=(uri,), seed=1)
    store.record_submitted(Task("t-in"), request, base_url=SERVER, simulated=False)
    row = (
        sqlite3.connect(store.db_path)
        .execute("SELECT payload FROM tasks WHERE task_id = 't-in'")
        .fetchone()[0]
    )
    assert len(row) < 1000 and "base64," not in row
    digest = hashlib.sha256(ref).hexdigest()
    assert (store.home / "inputs" / digest[:2] / f"{digest}.png").read_bytes() == ref
    rec = store.get("t-in")
    assert rec is not None
    assert rec.request == request and rec.request.cache_key() == request.cache_key()


# -- image files --------------------------------------------------------------------------------
def test_save_image_content_addressed_and_recorded(store: Store) -> None:
    request = req(seed=11)
    store.record_submitted(Task("t-img"), request, base_url=SERVER, simulated=False)
    data = image_bytes("PNG", (64, 40))
    path = store.save_image(
        "t-img", 0, data, url="https://x/0.png", expires_at=2e9, request=request
    )
    final = path.read_bytes()
    digest = hashlib.sha256(final).hexdigest()
    assert path == store.home / "images" / digest[:2] / f"{digest}.png"
    rec = store.get("t-img")
    assert rec is not None
    (img,) = rec.images
    assert (img.path, img.sha256, img.width, img.height, img.bytes) == (
        path,
        digest,
        64,
        40,
        len(final),
    )
    assert (img.url, img.expires_at) == ("https://x/0.png", 2e9)
    assert store.image_paths("t-img") == [path]
    assert not list(store.home.rglob(".tmp-*"))
    # the same image saved again (api and resume both finishing it): one file, same row
    again = store.save_image("t-img", 0, data, url=None, expires_at=None, request=None)
    assert again == path
    assert len([p for p in (store.home / "images").rglob("*") if p.is_file()]) == 1
    rec = store.get("t-img")
    assert rec is not None and rec.images[0].url == "https://x/0.png"


def test_identical_bytes_share_one_file(store: Store) -> None:
    """Bytes that carry no provenance (WEBP) are stored once for every task that has them."""
    webp = image_bytes("WEBP", (20, 20))
    paths = [
        store.save_image(t, 0, webp, url=None, expires_at=None, request=None) for t in ("w1", "w2")
    ]
    assert paths[0] == paths[1] and paths[0].read_bytes() == webp
    for task_id in ("w1", "w2"):
        store.record_state(Task(task_id, TaskStatus.COMPLETED))
    report = store.prune(task_ids=["w1"])
    assert report.tasks == 1 and report.files == 0  # still used by w2
    assert paths[0].exists()
    report = store.prune(task_ids=["w2"])
    assert report.files == 1 and not paths[0].exists()


def _with_input(prompt: str) -> GenerationRequest:
    uri = "data:image/png;base64," + base64.b64encode(image_bytes(seed=7)).decode()
    return req(prompt, action="image2image", image_urls=(uri,))


@pytest.mark.parametrize("who_waits", ["prune", "writer"])
def test_prune_racing_a_writer_never_loses_a_shared_input(
    home: Path, monkeypatch: pytest.MonkeyPatch, who_waits: str
) -> None:
    pruner, writer = Store(home), Store(home)  # two kernels on one store
    pruner.record_submitted(Task("old"), _with_input("old"), base_url=SERVER, simulated=False)
    pruner.record_state(Task("old", TaskStatus.COMPLETED))
    (shared,) = [p for p in (home / "inputs").rglob("*") if p.is_file()]

    def then(first: object, second: object) -> object:
        def run() -> object:
            first()  # type: ignore[operator]
            return second()  # type: ignore[operator]

        return run

    if who_waits == "prune":  # the writer re-uses the file just before prune takes the lock
        real_tx = pruner._tx
        calls = iter([real_tx, then(lambda: writer_submits(), real_tx)])
        monkeypatch.setattr(pruner, "_tx", lambda: next(calls)())
    else:  # prune deletes the file between the writer's own write and its lock
        real_tx = writer._tx
        monkeypatch.setattr(writer, "_tx", then(lambda: pruner.prune(task_ids=["old"]), real_tx))

    def writer_submits() -> None:
        writer.record_submitted(Task("new"), _with_input("new"), base_url=SERVER, simulated=False)

    if who_waits == "prune":
        pruner.prune(task_ids=["old"])
    else:
        writer_submits()
    assert pruner.get("old") is None and shared.is_file()  # the new task's input survived
    record = Store(home).get("new")
    assert record is not None and record.request.image_urls[0].startswith("data:image/png")


def test_image_paths_ordered_and_only_existing(store: Store) -> None:
    paths = complete(store, "t-3", req(n=3), images=3)
    assert store.image_paths("t-3") == paths
    paths[1].unlink()
    assert store.image_paths("t-3") == [paths[0], paths[2]]


def test_failed_write_leaves_no_file(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", broken)
    with pytest.raises(HistoryError, match="disk full") as info:
        store.save_image("t-x", 0, image_bytes(), url=None, expires_at=None, request=None)
    assert info.value.path == store.home and isinstance(info.value.__cause__, OSError)
    images = store.home / "images"
    assert not [p for p in images.rglob("*") if p.is_file()]
    assert store.get("t-x") is None


# -- provenance ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_provenance_readable_with_pillow_and_pixels_untouched(store: Store, fmt: str) -> None:
    request = req("un renard roux — 雪の中の狐", seed=1234)
    store.record_submitted(Task("t-prov"), request, base_url=SERVER, simulated=True)
    data = image_bytes(fmt, (80, 60), seed=5)
    path = store.save_image("t-prov", 0, data, url=None, expires_at=None, request=request)
    with Image.open(path) as saved, Image.open(io.BytesIO(data)) as original:
        assert np.array_equal(np.asarray(saved), np.asarray(original))
        if fmt == "PNG":
            text = saved.text  # type: ignore[attr-defined]
            assert text["prompt"] == request.prompt
            assert text["model"] == "doubao-seedream-4.5"
            assert text["seed"] == "1234" and text["task_id"] == "t-prov"
            record = json.loads(text["seedream"])
        else:
            record = json.loads(saved.info["comment"])
    assert record["prompt"] == request.prompt and record["seed"] == 1234
    assert record["task_id"] == "t-prov" and record["model"] == "doubao-seedream-4.5"
    assert record["simulated"] is True
    assert provenance.read(path.read_bytes()) == record


def test_provenance_embedding_is_idempotent_and_bounded() -> None:
    jpeg = image_bytes("JPEG")
    once = provenance.embed(jpeg, {"prompt": "x", "seed": 1})
    assert provenance.embed(once, {"prompt": "x", "seed": 1}) == once
    huge = provenance.embed(jpeg, {"prompt": "é" * 50_000, "seed": 1})
    found = provenance.read(huge)
    assert found is not None and found["prompt_truncated"] is True
    assert Image.open(io.BytesIO(huge)).size == (48, 32)
    assert provenance.embed(b"not an image", {"prompt": "x"}) == b"not an image"


# -- cache ---------------------------------------------------------------------------------------
def test_find_cached_semantics(store: Store) -> None:
    fixed = req(seed=42)
    complete(store, "t-c", fixed)
    hit = store.find_cached(fixed, base_url=SERVER + "/", simulated=False)
    assert hit is not None and hit.task_id == "t-c"
    # random seed: never cached
    random_seed = req(seed=-1)
    complete(store, "t-r", random_seed)
    assert store.find_cached(random_seed, base_url=SERVER, simulated=False) is None
    # other parameters, other model, other server, simulated vs real: misses
    assert store.find_cached(req(seed=43), base_url=SERVER, simulated=False) is None
    assert store.find_cached(req(seed=42, model="4.0"), base_url=SERVER, simulated=False) is None
    assert (
        store.find_cached(req(seed=42, aspect_ratio="16:9"), base_url=SERVER, simulated=False)
        is None
    )
    assert store.find_cached(fixed, base_url="https://other.example", simulated=False) is None
    assert store.find_cached(fixed, base_url=SERVER, simulated=True) is None
    # a callback URL does not change the output
    assert (
        store.find_cached(
            req(seed=42, callback_url="https://hook.example/x"), base_url=SERVER, simulated=False
        )
        is not None
    )
    # a missing file: miss
    (path,) = store.image_paths("t-c")
    path.unlink()
    assert store.find_cached(fixed, base_url=SERVER, simulated=False) is None


def test_find_cached_simulated_matches_any_simulator(store: Store) -> None:
    request = req(seed=9)
    complete(store, "t-s", request, base_url="http://127.0.0.1:5001", simulated=True)
    hit = store.find_cached(request, base_url="http://127.0.0.1:6002", simulated=True)
    assert hit is not None and hit.task_id == "t-s"
    # the same server not yet known to be a simulator: its own (simulated) record
    same = store.find_cached(request, base_url="http://127.0.0.1:5001", simulated=False)
    assert same is not None and same.simulated
    assert store.find_cached(request, base_url="http://127.0.0.1:6002", simulated=False) is None
    # a real record never answers a simulated request from another server, nor the reverse
    complete(store, "t-real", req(seed=10))
    assert store.find_cached(req(seed=10), base_url="http://127.0.0.1:5001", simulated=True) is None


def test_find_cached_needs_completed_with_images(store: Store) -> None:
    request = req(seed=5)
    store.record_submitted(Task("t-p"), request, base_url=SERVER, simulated=False)
    assert store.find_cached(request, base_url=SERVER, simulated=False) is None
    complete(store, "t-nosave", request, save=False)
    assert store.find_cached(request, base_url=SERVER, simulated=False) is None


# -- listing -------------------------------------------------------------------------------------
def _seen(task_id: str, status: str, images: int = 1) -> Task:
    """The task as a poll shows it: a completed one with its images (none would be a failure)."""
    done = status == "completed"
    count = images if done else 0
    refs = tuple(ImageRef(f"{SERVER}/files/{task_id}/{i}.jpeg") for i in range(count))
    return Task(task_id, TaskStatus.parse(status), images=refs)


def _set_created(store: Store, task_id: str, created: float) -> None:
    conn = sqlite3.connect(store.db_path)
    conn.execute("UPDATE tasks SET created_at = ? WHERE task_id = ?", (created, task_id))
    conn.commit()
    conn.close()


def test_pending_and_history_order_and_filters(store: Store) -> None:
    now = time.time()
    for i, status in enumerate(["queued", "processing", "completed", "failed", "queued"]):
        task_id = f"t{i}"
        store.record_submitted(
            Task(task_id),
            req(),
            base_url=SERVER if i != 4 else "http://127.0.0.1:9",
            simulated=i == 4,
        )
        store.record_state(_seen(task_id, status))
        _set_created(store, task_id, now - 100 + i)
    assert [r.task_id for r in store.history()] == ["t4", "t3", "t2", "t1", "t0"]
    assert [r.task_id for r in store.history(limit=2)] == ["t4", "t3"]
    assert [r.task_id for r in store.history(status="completed")] == ["t2"]
    assert [r.task_id for r in store.history(status="pending")] == ["t4", "t1", "t0"]
    assert [r.task_id for r in store.pending()] == ["t0", "t1", "t4"]  # oldest first
    assert [r.task_id for r in store.pending(base_url=SERVER)] == ["t0", "t1"]
    assert [r.task_id for r in store.pending(base_url="http://127.0.0.1:9/")] == ["t4"]
    store.mark_lost("t0", "gone")
    assert [r.task_id for r in store.pending(base_url=SERVER)] == ["t1"]
    assert [r.task_id for r in store.history(status="lost")] == ["t0"]


# -- money ---------------------------------------------------------------------------------------
def test_spend_by_day_model_and_kind(store: Store) -> None:
    day = 86400.0
    base = time.time() - 3 * day
    rows = [
        ("a", req(), False, "completed", base),
        ("b", req(n=2), False, "completed", base),
        ("c", req(model="4.0"), False, "processing", base),
        ("d", req(), True, "completed", base),
        ("e", req(), False, "failed", base),
        ("f", req(), False, "cancelled", base),
        ("g", req(), False, "completed", base + 2 * day),
    ]
    for task_id, request, simulated, status, created in rows:
        store.record_submitted(Task(task_id), request, base_url=SERVER, simulated=simulated)
        store.record_state(_seen(task_id, status, request.output_count))
        _set_created(store, task_id, created)
    price45 = req().spec.price_per_image_usd
    price40 = req(model="4.0").spec.price_per_image_usd
    assert store.spent_usd(simulated=False) == pytest.approx(4 * price45 + price40)
    assert store.spent_usd(simulated=True) == pytest.approx(price45)
    assert store.spent_usd(simulated=False, since=base + day) == pytest.approx(price45)
    spend = store.spend()
    days = sorted({r.day for r in spend}, reverse=True)
    assert [r.day for r in spend] == sorted([r.day for r in spend], reverse=True)
    assert len(days) == 2
    by_key = {(r.day, r.model, r.simulated): r for r in spend}
    first = by_key[(days[1], "doubao-seedream-4.5", False)]
    assert (first.tasks, first.cost_usd) == (2, pytest.approx(3 * price45))
    assert by_key[(days[1], "doubao-seedream-4.0", False)].cost_usd == pytest.approx(price40)
    assert by_key[(days[1], "doubao-seedream-4.5", True)].tasks == 1
    assert by_key[(days[0], "doubao-seedream-4.5", False)].tasks == 1
    assert [r.simulated for r in store.spend(simulated=True)] == [True]
    assert {r.model for r in store.spend(model="4.0")} == {"doubao-seedream-4.0"}


# -- prune ---------------------------------------------------------------------------------------
def _files(home: Path) -> set[Path]:
    return {p for p in (home / "images").rglob("*") if p.is_file()}


def test_prune_frees_files(store: Store) -> None:
    old = complete(store, "old", req(prompt="old"), images=2)
    sim = complete(store, "sim", req(prompt="sim"), simulated=True)
    new = complete(store, "new", req(prompt="new"))
    store.record_submitted(Task("pending-old"), req(), base_url=SERVER, simulated=False)
    for task_id in ("old", "sim", "pending-old"):
        _set_created(store, task_id, time.time() - 40 * 86400)
    assert _files(store.home) == {*old, *sim, *new}

    dry = store.prune(older_than_days=30, dry_run=True)
    assert (dry.tasks, dry.images, dry.files, dry.dry_run) == (2, 3, 3, True)
    assert dry.bytes_freed == sum(p.stat().st_size for p in [*old, *sim])
    assert _files(store.home) == {*old, *sim, *new}

    report = store.prune(older_than_days=30, simulated_only=True)
    assert (report.tasks, report.files) == (1, 1)
    assert store.get("sim") is None and _files(store.home) == {*old, *new}

    report = store.prune(keep_last=2)  # pending-old and new are the newest two... by created
    assert store.get("pending-old") is not None  # pending: never pruned
    assert store.get("new") is not None
    assert store.get("old") is None and report.files == 2
    assert _files(store.home) == set(new)


def test_prune_without_filter_only_removes_orphans(store: Store) -> None:
    kept = complete(store, "keep", req())
    orphan = store.home / "images" / "zz" / "orphan.png"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"x" * 100)
    young = store.home / "images" / "zz" / "young.png"
    young.write_bytes(b"y")
    stale = time.time() - 2 * schema.ORPHAN_GRACE_SECONDS
    os.utime(orphan, (stale, stale))
    dry = store.prune(dry_run=True)
    assert (dry.tasks, dry.files, dry.bytes_freed, dry.dry_run) == (0, 1, 100, True)
    assert orphan.exists()
    report = store.prune()
    assert (report.tasks, report.files, report.bytes_freed) == (0, 1, 100)
    assert not orphan.exists() and young.exists() and all(p.exists() for p in kept)


# -- several writers -----------------------------------------------------------------------------
def _writer(home: str, worker: int, count: int, start: object) -> None:
    start.wait(60)  # type: ignore[attr-defined]  # every process imported: all begin at once
    db = Store(home)
    request = GenerationRequest(prompt=f"worker {worker}", seed=worker)
    png = image_bytes("PNG", (8, 8), seed=worker)
    for i in range(count):
        task_id = f"w{worker}-{i}"
        db.record_submitted(Task(task_id), request, base_url=SERVER, simulated=False)
        refs = (ImageRef(f"https://x/{task_id}/0"), ImageRef(f"https://x/{task_id}/1"))
        db.record_state(Task(task_id, TaskStatus.PROCESSING, 50))
        db.record_state(Task(task_id, TaskStatus.COMPLETED, 100, images=refs))
        for index in range(2):
            db.save_image(
                task_id, index, png, url=refs[index].url, expires_at=None, request=request
            )


def test_four_processes_writing_at_once_lose_nothing(home: Path) -> None:
    count = 150
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(5)  # the four writers and this process
    procs = [ctx.Process(target=_writer, args=(str(home), w, count, start)) for w in range(4)]
    for proc in procs:
        proc.start()
    start.wait(60)
    began = time.perf_counter()
    for proc in procs:
        proc.join(120)
        assert proc.exitcode == 0
    elapsed = time.perf_counter() - began
    conn = sqlite3.connect(home / schema.DB_NAME)
    assert (
        conn.execute("SELECT COUNT(*) FROM tasks WHERE status = 'completed'").fetchone()[0]
        == 4 * count
    )
    assert (
        conn.execute("SELECT COUNT(*) FROM images WHERE path IS NOT NULL").fetchone()[0]
        == 4 * count * 2
    )
    assert len(_files(home)) == 4 * count * 2  # task id in the provenance: distinct files
    print(
        f"\n4 writers: {4 * count} tasks, {8 * count} images, 5 transactions + 2 files per task "
        f"in {elapsed:.2f} s = {4 * count * 5 / elapsed:.0f} transactions/s"
    )


def test_threads_share_one_store(store: Store) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(30):
                complete(store, f"th{worker}-{i}", req(seed=worker), save=i % 3 == 0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(store.history()) == 180


# -- the key ---------------------------------------------------------------------------------------
def test_api_key_appears_in_no_row_and_no_file(store: Store) -> None:
    request = req(seed=3)
    complete(store, "t-key", request, images=2)
    store.spend()
    store.prune(older_than_days=1000)
    for path in store.home.rglob("*"):
        if path.is_file():
            assert SENTINEL_KEY.encode() not in path.read_bytes(), path
    conn = sqlite3.connect(store.db_path)
    for table in ("tasks", "images", "inputs"):
        for row in conn.execute(f"SELECT * FROM {table}"):
            assert SENTINEL_KEY not in repr(row)


def test_default_store_follows_seedream_home(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = session().store()
    assert first.home == home.resolve() and session().store() is first
    monkeypatch.setenv("SEEDREAM_HOME", str(tmp_path / "elsewhere"))
    second = session().store()
    assert second is not first and second.home == (tmp_path / "elsewhere").resolve()
