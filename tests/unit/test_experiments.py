"""Experiments end to end on the simulator behind a MockTransport: sweeps (product, labels,
skip_invalid, cost and confirmation), compare, records, ratings, scores, replay, lineage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import seedream_jupyter as sj
from seedream_jupyter import simulator
from seedream_jupyter.client import PollPolicy
from seedream_jupyter.errors import ConfirmationRequiredError, ValidationError
from seedream_jupyter.session import session
from seedream_jupyter.simulator import MockSimulator

pytestmark = pytest.mark.filterwarnings("ignore::seedream_jupyter.api.SimulatorWarning")
FAST = PollPolicy(first_delay=0.01, min_interval=0.01, max_interval=0.05)
SIDE = 96  # result images are drawn this small (1K squares): the tests need files, not pixels
RECORD_COLUMNS = {
    "prompt",
    "model",
    "seed",
    "aspect_ratio",
    "resolution",
    "task_id",
    "index",
    "path",
    "width",
    "height",
    "cost_usd",
    "elapsed_s",
    "rating",
    "tags",
}


@pytest.fixture
def sim() -> Iterator[MockSimulator]:
    with simulator.mock(speed=200, jitter=0, image_side=SIDE) as mocked:
        yield mocked


@pytest.fixture
def client(sim: MockSimulator) -> Iterator[sj.Client]:
    """Told it is a simulator (free): no confirmation needed."""
    c = sj.Client(api_key="sk-x", base_url=sim.url, transport=sim.transport, poll=FAST)
    c.aio._told_simulated = True
    yield c
    c.close()


@pytest.fixture
def billed(sim: MockSimulator) -> Iterator[sj.Client]:
    """A client that does not know its server is a simulator: counted as billed."""
    c = sj.Client(api_key="sk-x", base_url=sim.url, transport=sim.transport, poll=FAST)
    yield c
    c.close()


class Recorder:
    """A front-end that shows nothing but keeps every notice."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    def progress(self, title: str) -> None:
        return None

    def notice(self, text: str) -> None:
        self.notices.append(text)


@pytest.fixture
def frontend() -> Recorder:
    recorder = Recorder()
    session().set_frontend(recorder)
    return recorder


def submits(sim: MockSimulator) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in sim.requests if r.scope == "submit"]


# -- the product ------------------------------------------------------------------------------


def test_sweep_is_the_product_with_axes_and_labels(
    sim: MockSimulator, client: sj.Client, frontend: Recorder
) -> None:
    s = sj.sweep(
        "a {animal} in {style} style",
        animal=["fox", "owl"],
        style=["ink", "oil"],
        seed=[1, 2],
        model="4.0",
        resolution="1K",
        client=client,
    )
    assert isinstance(s, sj.Sweep) and isinstance(s, sj.ResultSet)
    assert s.axes == {"animal": ["fox", "owl"], "style": ["ink", "oil"], "seed": [1, 2]}
    assert len(s) == 8 and s.failures == {} and s.skipped == {}
    assert s.labels[0] == "animal=fox, style=ink, seed=1"
    assert s.labels[-1] == "animal=owl, style=oil, seed=2"
    sent = {(p["prompt"], p["seed"]) for p in submits(sim)}
    assert sent == {
        (f"a {a} in {st} style", seed)
        for a in ("fox", "owl")
        for st in ("ink", "oil")
        for seed in (1, 2)
    }
    assert all(
        p["model"] == "doubao-seedream-4.0" and p["resolution"] == "1K" for p in submits(sim)
    )
    assert len(set(s.labels)) == 8
    for position, result in enumerate(s):
        values = s.axis_values(position)
        assert result.prompt == f"a {values['animal']} in {values['style']} style"
        assert result.params.seed == values["seed"]
    assert s.grid(columns=4).size[0] > 0  # the flat sheet of a ResultSet still works


def test_an_axis_that_is_neither_a_field_nor_in_the_template_is_refused(
    sim: MockSimulator, client: sj.Client
) -> None:
    with pytest.raises(ValidationError, match="colour"):
        sj.sweep("a fox", colour=["red", "blue"], client=client)
    with pytest.raises(ValidationError, match="no value for"):
        sj.sweep("a {animal} in {style}", animal=["fox"], client=client)
    assert sim.requests == []


def test_invalid_combinations_are_refused_or_skipped(
    sim: MockSimulator, client: sj.Client, frontend: Recorder
) -> None:
    # 5.0-lite has no 1K: two of the four combinations are impossible
    with pytest.raises(ValidationError) as info:
        sj.sweep("a fox", model=["4.0", "5.0-lite"], seed=[1, 2], resolution="1K", client=client)
    text = str(info.value)
    assert "2 of 4" in text and "model=5.0-lite, seed=1" in text and "skip_invalid=True" in text
    assert sim.requests == []
    s = sj.sweep(
        "a fox",
        model=["4.0", "5.0-lite"],
        seed=[1, 2],
        resolution="1K",
        skip_invalid=True,
        client=client,
    )
    assert len(s) == 2 and {p["model"] for p in submits(sim)} == {"doubao-seedream-4.0"}
    assert set(s.skipped) == {"model=5.0-lite, seed=1", "model=5.0-lite, seed=2"}
    assert all("resolution" in why for why in s.skipped.values())
    assert "2 skipped" in frontend.notices[-1]
    sheet = s.grid(rows="seed", cols="model")
    assert set(sheet.info["cells"]) == {(0, 0), (0, 1), (1, 0), (1, 1)}  # skipped keep a place


def test_the_estimate_is_shown_and_a_billed_sweep_above_the_threshold_needs_confirm(
    sim: MockSimulator, billed: sj.Client, frontend: Recorder
) -> None:
    axes: dict[str, Any] = {"seed": list(range(12)), "n": 3, "model": "4.5", "client": billed}
    with pytest.raises(ConfirmationRequiredError) as info:  # 36 images × $0.02975 = $1.071
        sj.sweep("a fox", **axes)
    assert "1.0710" in str(info.value) and "confirm=True" in str(info.value)
    assert isinstance(info.value, ValidationError) and sim.requests == []
    session().configure(confirm_above_usd=2.0)
    plan = sj.api.plan_sweep("a fox", **axes)
    assert plan.estimate_usd == pytest.approx(36 * 0.02975) and not plan.needs_confirmation
    session().configure(confirm_above_usd=1.0)
    with pytest.raises(ConfirmationRequiredError):
        sj.batch([{"prompt": f"p{i}", "n": 15} for i in range(3)], client=billed)
    assert sim.requests == []
    s = sj.sweep("a fox", confirm=True, **{**axes, "seed": [1, 2]} | {"n": 1})
    assert len(s) == 2
    assert frontend.notices and "2 request(s), up to 2 image(s), ≈ $0.0595" in frontend.notices[0]


def test_a_simulated_sweep_never_needs_confirmation_and_says_it_is_free(
    client: sj.Client, frontend: Recorder
) -> None:
    plan = sj.api.plan_sweep("a fox", seed=list(range(40)), client=client)
    assert plan.estimate_usd > 1.0 and not plan.needs_confirmation
    assert "simulator: no cost" in plan.describe()


# -- compare ----------------------------------------------------------------------------------


def test_compare_maps_what_a_model_lacks_and_says_so(
    sim: MockSimulator, client: sj.Client, frontend: Recorder
) -> None:
    c = sj.compare(
        "a lighthouse", models=["4.0", "4.5", "5.0-lite"], resolution="1K", client=client
    )
    assert c.kind == "compare" and c.axes == {"model": list(sj.catalog.MODEL_IDS[::-1])}
    by_model = {p["model"]: p["resolution"] for p in submits(sim)}
    assert by_model == {
        "doubao-seedream-4.0": "1K",
        "doubao-seedream-4.5": "2K",
        "doubao-seedream-5.0-lite": "2K",
    }
    assert "doubao-seedream-4.5 has no 1K: 2K instead" in c.notes
    assert "doubao-seedream-4.5 has no 1K: 2K instead" in frontend.notices[0]
    summary = c.summary()
    assert all(f"{m}:" in summary for m in by_model) and "$0.0238" in summary
    with pytest.raises(ValidationError, match="skip_invalid"):  # 5.0-lite cannot edit
        sj.compare("x", models=["4.5", "5.0-lite"], action="edit", client=client)
    assert {p["model"] for p in submits(sim)} == set(by_model)


def test_compare_nearest_ratio(sim: MockSimulator, client: sj.Client) -> None:
    c = sj.compare("tall", models=["4.5", "5.0-lite"], aspect_ratio="9:21", client=client)
    ratios = {p["model"]: p["aspect_ratio"] for p in submits(sim)}
    assert ratios == {"doubao-seedream-4.5": "9:21", "doubao-seedream-5.0-lite": "9:16"}
    assert any("has no 9:21" in n for n in c.notes)


# -- records, ratings, scores --------------------------------------------------------------------


def test_to_records_has_one_row_per_image_with_every_column(
    client: sj.Client, frontend: Recorder
) -> None:
    s = sj.sweep(
        "a {thing}", thing=["cup", "pen"], n=[1, 2], model="4.0", resolution="1K", client=client
    )
    s[1].rate(1, 5)
    s[1].tag(1, "keep", "blue")
    rows = s.to_records()
    assert len(rows) == 1 + 2 + 1 + 2 == sum(len(r) for r in s)
    for row in rows:
        assert RECORD_COLUMNS | {"thing", "n"} <= set(row)
        assert row["width"] == row["height"] == SIDE and Path(row["path"]).is_file()
        assert row["cost_usd"] == pytest.approx(0.0238)
    rated = [r for r in rows if r["rating"] is not None]
    assert len(rated) == 1 and rated[0]["rating"] == 5 and rated[0]["tags"] == ["keep", "blue"]
    assert rated[0]["task_id"] == s[1].task_id and rated[0]["index"] == 1
    frame = s.to_pandas()
    assert len(frame) == len(rows) and {"thing", "rating", "elapsed_s"} <= set(frame.columns)


def test_to_pandas_without_pandas_names_the_extra(
    client: sj.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    s = sj.sweep("a fox", seed=[1], client=client)
    with pytest.raises(ImportError, match=r"seedream-jupyter\[pandas\]"):
        s.to_pandas()


def test_ratings_survive_a_new_process(client: sj.Client, isolated_env: Path) -> None:
    res = sj.sweep("a fox", seed=[1], client=client)[0]
    res.rate(0, 4)
    res.tag(0, "keep")
    with pytest.raises(ValidationError):
        res.rate(0, 6)
    with pytest.raises(ValidationError):
        res.rate(3, 1)
    code = (
        "import json, seedream_jupyter as sj\n"
        "rec = sj.history()[0]\n"
        "print(json.dumps([rec.task_id, rec.ratings, rec.tags]))\n"
    )
    env = {**os.environ, "SEEDREAM_HOME": str(isolated_env)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    task_id, ratings, tags = json.loads(out.stdout.strip().splitlines()[-1])
    assert task_id == res.task_id and ratings == {"0": 4} and tags == {"0": ["keep"]}
    assert res.ratings == [4] and res.tags == [("keep",)]
    res.untag(0)
    res.rate(0, None)
    assert res.ratings == [None] and res.tags == [()]


def test_scores_fill_a_column_and_a_label_under_each_cell(client: sj.Client) -> None:
    s = sj.sweep("a {thing}", thing=["cup", "pen"], model="4.0", resolution="1K", client=client)
    values = s.score(sj.scores.sharpness)
    assert len(values) == 2 and all(v > 0 for v in values)
    s.score(lambda image, record: len(record["prompt"]), name="prompt_length")
    s.score(lambda image: image.width)  # a one-argument scorer works too, named "score"
    rows = s.to_records()
    assert [r["prompt_length"] for r in rows] == [5, 5] and rows[0]["score"] == SIDE
    assert rows[0]["sharpness"] == values[0]
    plain = s.grid(thumb_side=96)
    s.scores.clear()
    assert s.grid(thumb_side=96).height < plain.height  # the score lines take room
    with pytest.raises(ValidationError, match="must return a number"):
        s.score(lambda image, record: "high")


# -- reproducibility --------------------------------------------------------------------------


def test_replay_sends_a_request_equal_to_the_original(
    sim: MockSimulator, client: sj.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session(), "client", lambda: client)
    res = sj.generate("a red fox", model="4.0", resolution="1K", seed=-1, client=client)
    again = res.replay()
    first, second = submits(sim)
    assert first == second == res.request and again.task_id != res.task_id
    changed = res.replay(seed=9, aspect_ratio="16:9")
    assert submits(sim)[-1] == {**res.request, "seed": 9, "aspect_ratio": "16:9"}
    fixed = changed.replay()  # a fixed seed and no change: the history answers, nothing sent
    assert fixed.from_cache and len(submits(sim)) == 3
    with pytest.raises(ValidationError, match="replay takes"):
        res.replay(colour="red")


def test_result_json_round_trip(client: sj.Client) -> None:
    res = sj.generate("a red fox", model="4.0", resolution="1K", seed=3, client=client)
    text = res.to_json()
    record = json.loads(text)
    assert record["request"] == res.request and record["version"] == sj.__version__
    assert record["server"]["created_at"] and record["server"]["completed_at"]
    assert record["server"]["fields"]["task_id"] == res.task_id
    assert "sk-x" not in text
    back = sj.Result.from_json(text)
    assert back.task_id == res.task_id and back.request == res.request
    assert back.images[0].size == res.images[0].size == (SIDE, SIDE)
    assert back.simulated and back.provenance["images"][0]["width"] == SIDE
    with pytest.raises(ValidationError):
        sj.Result.from_json('{"hello": 1}')


def test_replay_from_a_saved_file(
    sim: MockSimulator, client: sj.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session(), "client", lambda: client)
    res = sj.generate("a paper lantern", model="4.0", resolution="1K", seed=5, client=client)
    (saved,) = res.save(tmp_path / "out")
    again = sj.replay(saved)  # seed fixed, nothing changed: answered from the history
    assert again.from_cache and len(submits(sim)) == 1
    fresh = sj.replay(saved, seed=6)
    assert submits(sim)[-1] == {**res.request, "seed": 6} and not fresh.from_cache
    # a file whose task this machine's history does not know: from the embedded fields
    session().configure(home=str(tmp_path / "other-home"))
    elsewhere = sj.replay(saved, seed=7)
    sent = submits(sim)[-1]
    assert {k: sent[k] for k in ("prompt", "model", "seed", "resolution")} == {
        "prompt": "a paper lantern",
        "model": "doubao-seedream-4.0",
        "seed": 7,
        "resolution": "1K",
    }
    assert elsewhere.task_id != res.task_id
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    with pytest.raises(ValidationError, match="provenance"):
        sj.replay(plain)


def test_an_edit_of_a_result_remembers_its_parent(
    client: sj.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = sj.generate("a street", model="4.0", resolution="1K", client=client)
    night = sj.edit(base[0], "make it night", model="4.0", resolution="1K", client=client)
    assert night.parent_task_id == base.task_id
    rain = sj.image2image(night, "add rain", model="4.0", resolution="1K", client=client)
    assert rain.parent_task_id == night.task_id
    chain = sj.lineage(rain)
    assert [r.task_id for r in chain] == [rain.task_id, night.task_id, base.task_id]
    assert sj.history()[0].parent_task_id == night.task_id
    assert json.loads(rain.to_json())["parent_task_id"] == night.task_id
