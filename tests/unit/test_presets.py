"""``sj.preset``: defaults checked when the preset is made, merged under each call's arguments
(no network: the requests a preset builds; its calls over sockets are in
tests/integration/test_api_surface.py)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

import seedream_jupyter as sj
from seedream_jupyter import catalog
from seedream_jupyter.api import Preset
from seedream_jupyter.errors import ValidationError


def png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def test_a_preset_binds_defaults_and_the_call_wins() -> None:
    fox = sj.preset(model="4.5", aspect_ratio="16:9", resolution="4K")
    assert isinstance(fox, Preset)
    req = fox.request("a red fox")
    assert (req.model, req.aspect_ratio, req.resolution) == ("doubao-seedream-4.5", "16:9", "4K")
    wins = fox.request("a red fox", resolution="2K", model="4.0", seed=3)
    assert (wins.model, wins.resolution, wins.seed) == ("doubao-seedream-4.0", "2K", 3)
    assert fox.request("x", aspect_ratio=None).aspect_ratio == "16:9"  # None: not given


def test_the_model_is_stored_as_its_id_and_the_repr_shows_the_defaults() -> None:
    fox = sj.preset(model="4.5", aspect_ratio="16:9", images=[png((8, 8)), png((9, 9))])
    assert fox.defaults["model"] == "doubao-seedream-4.5"
    assert (
        repr(fox) == "preset(model='doubao-seedream-4.5', aspect_ratio='16:9', images=<2 images>)"
    )
    with pytest.raises(TypeError):
        fox.defaults["model"] = "4.0"  # type: ignore[index]


@pytest.mark.parametrize(
    ("defaults", "field"),
    [
        ({"model": "4.5", "resolution": "1K"}, "resolution"),
        ({"model": "5.0-lite", "action": "edit"}, "action"),
        ({"model": "4.5", "web_search": True}, "web_search"),
        ({"extra": {"seed": 1}}, "extra['seed']"),
        ({"modle": "4.5"}, "modle"),
        ({"prompt": "x"}, "prompt"),
        ({"timeout": "30"}, "timeout"),
        ({"wait": "later"}, "wait"),
        ({"cache": "yes"}, "cache"),
        ({"callback_url": "http://"}, "callback_url"),
        ({"model": "doubao-seedream-5.0-pro"}, "model"),
    ],
)
def test_bad_defaults_are_refused_when_the_preset_is_made(
    defaults: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError) as info:
        sj.preset(**defaults)
    assert info.value.field == field


def test_defaults_that_need_references_wait_for_the_call() -> None:
    edit = sj.preset(model="4.0", action="edit", aspect_ratio="auto")
    portrait = png((720, 1280))
    req = edit.request("at night", images=portrait)
    assert req.action == "edit" and req.resolved_aspect_ratio == "9:16"
    with pytest.raises(ValidationError) as info:
        edit.request("at night")  # and now the missing reference is refused
    assert info.value.field in ("images", "aspect_ratio")


def test_preset_images_are_converted_once_and_an_argument_replaces_them() -> None:
    style = sj.preset(images=png((64, 48)))
    (url,) = style.defaults["images"]
    assert url.startswith("data:image/png;base64,")
    assert style.request("x").image_urls == (url,)
    other = png((32, 32))
    assert style.request("x", images=other).image_urls[0] != url


def test_with_defaults_changes_or_drops_one() -> None:
    fox = sj.preset(model="4.5", aspect_ratio="16:9", resolution="4K")
    small = fox.with_defaults(resolution="2K", aspect_ratio=None)
    assert dict(small.defaults) == {"model": "doubao-seedream-4.5", "resolution": "2K"}
    assert fox.defaults["resolution"] == "4K"  # the original is unchanged
    with pytest.raises(ValidationError):
        fox.with_defaults(model="5.0-lite")  # 4K is not on 5.0-lite


def test_whole_api_defaults_reach_the_request() -> None:
    lite = sj.preset(
        model="5.0-lite",
        web_search=True,
        optimize_prompt="standard",
        extra={"stream": False},
        callback_url="https://example.com/hook",
    )
    body = lite.request("today's skyline").to_payload()
    assert body["tools"] == [{"type": "web_search"}] and body["stream"] is False
    assert body["optimize_prompt_options"] == {"mode": "standard"}
    assert body["callback_url"] == "https://example.com/hook"
    new = sj.preset(model="doubao-seedream-5.0-pro", strict=False, price_per_image_usd=0.05)
    with pytest.warns(UserWarning, match="not in the catalog"):
        assert new.request("x").estimate_cost() == 0.05


def test_group_size_comes_from_the_call_the_preset_or_the_default() -> None:
    sizes = sj.preset(max_images=6)
    assert sizes.request("x").output_count == 6
    assert sj.preset().request("x", action="group").max_images == catalog.DEFAULT_GROUP_SIZE


def test_a_data_uri_default_round_trips() -> None:
    raw = png((5, 7))
    uri = "data:image/png;base64," + base64.b64encode(raw).decode()
    assert sj.preset(images=[uri]).defaults["images"] == [uri]
