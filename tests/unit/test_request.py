"""GenerationRequest: every catalog rule checked before anything is sent."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

import pytest

from seedream_jupyter import catalog
from seedream_jupyter._formats import sniff as sniff_image_format
from seedream_jupyter.errors import ValidationError
from seedream_jupyter.request import GenerationRequest, check_image_url

LITE, V45, V40 = "doubao-seedream-5.0-lite", "doubao-seedream-4.5", "doubao-seedream-4.0"
URL = "https://example.com/ref.png"
PNG_HEAD = b"\x89PNG\r\n\x1a\n"
MAX_BYTES = catalog.MAX_INPUT_IMAGE_BYTES


def refs(count: int) -> tuple[str, ...]:
    return tuple(f"https://example.com/ref{i}.png" for i in range(count))


def make(**kw: Any) -> GenerationRequest:
    kw.setdefault("prompt", "a red fox in snow")
    return GenerationRequest(**kw)


def rejected(field: str, **kw: Any) -> ValidationError:
    """Build a request that must fail on ``field``; return the error."""
    with pytest.raises(ValidationError) as info:
        make(**kw)
    assert info.value.field == field, str(info.value)
    return info.value


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


# -- defaults and normalisation --------------------------------------------------------------


def test_defaults_follow_the_seed() -> None:
    req = make()
    assert req.model == V45
    assert (req.action, req.n, req.seed) == ("generate", 1, -1)
    assert (req.aspect_ratio, req.resolution) == ("1:1", "2K")
    assert req.watermark is False
    assert req.output_format == "jpeg"
    assert req.image_urls == ()


@pytest.mark.parametrize(("alias", "model_id"), [("4.5", V45), ("5.0", LITE), ("4.0", V40)])
def test_aliases_become_ids(alias: str, model_id: str) -> None:
    assert make(model=alias).model == model_id


def test_values_are_normalised() -> None:
    req = make(
        model="5.0-lite",
        resolution=" 3k ",
        aspect_ratio=" AUTO ",
        output_format="JPG",
        action=" Generate ",
        image_urls=[URL],  # `auto` follows a reference: refused without one
    )
    assert (req.resolution, req.aspect_ratio, req.output_format, req.action) == (
        "3K",
        "auto",
        "jpeg",
        "generate",
    )


def test_image_urls_list_becomes_tuple() -> None:
    req = make(image_urls=[URL])
    assert req.image_urls == (URL,)


# -- model and action ------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["doubao-seedrem-4.5", "seedream-45"])
def test_unknown_model_suggests_the_closest(model: str) -> None:
    err = rejected("model", model=model)
    assert err.value == model
    assert f"did you mean {V45!r}" in str(err)
    for model_id in catalog.MODEL_IDS:
        assert model_id in str(err)


@pytest.mark.parametrize("model", ["dall-e-3", "", "   ", None, 4.5])
def test_unknown_model_without_suggestion(model: object) -> None:
    err = rejected("model", model=model)
    assert "did you mean" not in str(err)
    assert V45 in str(err)


@pytest.mark.parametrize("action", ["edit", "reference"])
def test_action_not_supported_names_the_models_that_do(action: str) -> None:
    kw: dict[str, Any] = {"image_urls": refs(1 if action == "edit" else 2)}
    err = rejected("action", model="5.0-lite", action=action, **kw)
    text = str(err)
    assert action in text and LITE in text
    assert V45 in text and V40 in text
    assert "generate, image2image, group" in text


@pytest.mark.parametrize("action", ["inpaint", "", "GENERATE2"])
def test_unknown_action(action: str) -> None:
    err = rejected("action", action=action)
    for known in catalog.ACTIONS:
        assert known in str(err)


@pytest.mark.parametrize(
    ("model", "action", "n_refs"),
    [
        (m, a, {"edit": 1, "image2image": 1, "reference": 2}.get(a, 0))
        for m in catalog.MODEL_IDS
        for a in catalog.MODELS[m].actions
    ],
)
def test_every_supported_action_is_accepted(model: str, action: str, n_refs: int) -> None:
    req = make(model=model, action=action, image_urls=refs(n_refs))
    assert req.action == action


# -- resolution, ratio, format ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "resolution", "ok"),
    [
        (LITE, "2K", True),
        (LITE, "3K", True),
        (LITE, "1K", False),
        (LITE, "4K", False),
        (V45, "2K", True),
        (V45, "4K", True),
        (V45, "1K", False),
        (V45, "3K", False),
        (V40, "1K", True),
        (V40, "2K", True),
        (V40, "4K", True),
        (V40, "3K", False),
        (V45, "8K", False),
    ],
)
def test_resolution_per_model(model: str, resolution: str, ok: bool) -> None:
    if ok:
        assert make(model=model, resolution=resolution).resolution == resolution
        return
    err = rejected("resolution", model=model, resolution=resolution)
    assert err.value == resolution
    assert model in str(err)
    for allowed in catalog.MODELS[model].resolutions:
        assert allowed in err.allowed


@pytest.mark.parametrize("model", catalog.MODEL_IDS)
@pytest.mark.parametrize("ratio", [*catalog.ASPECT_RATIOS, "5:4", "2:1", "square"])
def test_aspect_ratio_per_model(model: str, ratio: str) -> None:
    allowed = catalog.MODELS[model].aspect_ratios
    if ratio in allowed:
        refs = [URL] if ratio == "auto" else []  # `auto` follows a reference
        assert make(model=model, aspect_ratio=ratio, image_urls=refs).aspect_ratio == ratio
        return
    err = rejected("aspect_ratio", model=model, aspect_ratio=ratio)
    assert err.value == ratio
    assert "16:9" in err.allowed and model in err.allowed
    assert ("9:21" in err.allowed) is (model != LITE)


def test_9_21_only_on_4x() -> None:
    assert make(model="4.0", aspect_ratio="9:21").aspect_ratio == "9:21"
    assert make(model="4.5", aspect_ratio="9:21").aspect_ratio == "9:21"
    rejected("aspect_ratio", model="5.0-lite", aspect_ratio="9:21")


@pytest.mark.parametrize(
    ("model", "fmt", "ok"),
    [
        (LITE, "jpeg", True),
        (LITE, "png", True),
        (V45, "jpeg", True),
        (V45, "png", False),
        (V40, "png", False),
        (LITE, "webp", False),
        (LITE, "gif", False),
    ],
)
def test_output_format_per_model(model: str, fmt: str, ok: bool) -> None:
    if ok:
        assert make(model=model, output_format=fmt).output_format == fmt
        return
    err = rejected("output_format", model=model, output_format=fmt)
    assert err.value == fmt and "jpeg" in err.allowed


# -- counts, seed, flags ---------------------------------------------------------------------


@pytest.mark.parametrize(("n", "ok"), [(0, False), (1, True), (15, True), (16, False), (-1, False)])
def test_n_range(n: int, ok: bool) -> None:
    if ok:
        assert make(n=n).n == n
    else:
        err = rejected("n", n=n)
        assert err.value == n and "1" in err.allowed and "15" in err.allowed


@pytest.mark.parametrize(("size", "ok"), [(0, False), (1, True), (15, True), (16, False)])
def test_group_size_range(size: int, ok: bool) -> None:
    if ok:
        req = make(action="group", max_images=size)
        assert req.max_images == size and req.output_count == size
    else:
        err = rejected("max_images", action="group", max_images=size)
        assert err.value == size and "15" in err.allowed


@pytest.mark.parametrize(
    ("seed", "ok"),
    [(-2, False), (-1, True), (0, True), (2_147_483_647, True), (2_147_483_648, False)],
)
def test_seed_range(seed: int, ok: bool) -> None:
    if ok:
        assert make(seed=seed).seed == seed
    else:
        err = rejected("seed", seed=seed)
        assert err.value == seed and "2147483647" in err.allowed


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (field, value)
        for field in ("n", "seed", "max_images")
        for value in (True, False, 1.0, "3", None)
        if not (field == "max_images" and value is None)  # None: "not a group"
    ],
)
def test_integers_must_be_real_ints(field: str, value: object) -> None:
    kw: dict[str, Any] = {field: value}
    if field == "max_images":
        kw["action"] = "group"
    err = rejected(field, **kw)
    assert err.value is value or err.value == value


@pytest.mark.parametrize("n", ["2", None])
def test_non_int_n_on_a_group_is_a_validation_error(n: object) -> None:
    rejected("n", action="group", n=n)


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_watermark_must_be_bool(value: object) -> None:
    rejected("watermark", watermark=value)


@pytest.mark.parametrize("prompt", ["", "   ", "\n\t ", None, 42])
def test_empty_prompt(prompt: object) -> None:
    err = rejected("prompt", prompt=prompt)
    assert "non-empty" in err.allowed


@pytest.mark.parametrize("url", ["ftp://example.com/cb", "example.com", "/relative"])
def test_callback_url_must_be_http(url: str) -> None:
    rejected("callback_url", callback_url=url)


def test_max_images_only_for_groups() -> None:
    err = rejected("max_images", action="edit", image_urls=refs(1), max_images=3)
    assert "group" in err.allowed


def test_max_images_turns_generate_into_group() -> None:
    req = make(max_images=3)
    assert req.action == "group" and req.output_count == 3


def test_group_size_defaults() -> None:
    assert make(action="group").max_images == 4
    assert make(action="group", n=6).max_images == 6


# -- reference images ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "action", "count", "ok"),
    [
        # edit: exactly one
        (V45, "edit", 0, False),
        (V45, "edit", 1, True),
        (V45, "edit", 2, False),
        (V40, "edit", 0, False),
        (V40, "edit", 1, True),
        (V40, "edit", 2, False),
        # image2image: at least one
        (V45, "image2image", 0, False),
        (V45, "image2image", 1, True),
        (V45, "image2image", 14, True),
        (V45, "image2image", 15, False),
        (LITE, "image2image", 0, False),
        (LITE, "image2image", 1, True),
        (LITE, "image2image", 14, True),
        (LITE, "image2image", 15, False),
        (V40, "image2image", 10, True),
        (V40, "image2image", 11, False),
        # reference fusion: 2-10 on 4.0, 2-14 on 4.5
        (V40, "reference", 1, False),
        (V40, "reference", 2, True),
        (V40, "reference", 10, True),
        (V40, "reference", 11, False),
        (V45, "reference", 1, False),
        (V45, "reference", 2, True),
        (V45, "reference", 14, True),
        (V45, "reference", 15, False),
        # generate: references optional, same upper bounds
        (V45, "generate", 0, True),
        (V45, "generate", 14, True),
        (V45, "generate", 15, False),
        (LITE, "generate", 14, True),
        (LITE, "generate", 15, False),
        (V40, "generate", 10, True),
        (V40, "generate", 11, False),
        (LITE, "group", 14, True),
        (LITE, "group", 15, False),
    ],
)
def test_reference_counts(model: str, action: str, count: int, ok: bool) -> None:
    if ok:
        assert len(make(model=model, action=action, image_urls=refs(count)).image_urls) == count
        return
    err = rejected("images", model=model, action=action, image_urls=refs(count))
    assert str(count) in str(err.value) or (count == 0 and "no images" in str(err.value))
    assert any(ch.isdigit() for ch in err.allowed) or " one " in err.allowed


@pytest.mark.parametrize(
    ("kw", "ok"),
    [
        ({"action": "reference", "n_refs": 10, "n": 5}, True),
        ({"action": "reference", "n_refs": 10, "n": 6}, False),
        ({"action": "reference", "n_refs": 2, "n": 13}, True),
        ({"action": "reference", "n_refs": 2, "n": 14}, False),
        ({"action": "group", "n_refs": 5, "max_images": 10}, True),
        ({"action": "group", "n_refs": 5, "max_images": 11}, False),
        ({"action": "image2image", "n_refs": 1, "n": 15}, False),
        ({"action": "image2image", "n_refs": 1, "n": 14}, True),
    ],
)
def test_4_0_refs_plus_outputs_at_most_15(kw: dict[str, Any], ok: bool) -> None:
    kw = dict(kw)
    urls = refs(kw.pop("n_refs"))
    if ok:
        make(model="4.0", image_urls=urls, **kw)
        return
    err = rejected("images", model="4.0", image_urls=urls, **kw)
    assert "15" in err.allowed and V40 in err.allowed


def test_refs_plus_outputs_is_only_a_4_0_rule() -> None:
    make(model="4.5", action="reference", image_urls=refs(14), n=15)


# -- image URLs and data: URIs ---------------------------------------------------------------


def test_http_urls_pass(image_bytes: Any) -> None:
    make(action="image2image", image_urls=["http://a.test/x.png", "https://b.test/y"])


@pytest.mark.parametrize(
    "url", ["ftp://example.com/a.png", "file:///tmp/a.png", "example.com/a.png", "", 7]
)
def test_non_http_urls_rejected(url: object) -> None:
    err = rejected("images[0]", action="image2image", image_urls=[url])
    assert "http" in err.allowed or "URL" in err.allowed


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("jpeg", "image/jpeg"), ("png", "image/png"), ("webp", "image/webp"), ("jpeg", "image/jpg")],
)
def test_data_uri_of_each_allowed_format(image_bytes: Any, fmt: str, mime: str) -> None:
    uri = data_uri(image_bytes(16, 16, fmt), mime)
    assert make(action="image2image", image_urls=[uri]).image_urls == (uri,)


def test_data_uri_without_mime_is_sniffed(image_bytes: Any) -> None:
    make(action="image2image", image_urls=[data_uri(image_bytes(8, 8, "png"), "")])


def test_gif_data_uri_rejected(image_bytes: Any) -> None:
    err = rejected(
        "images[0]",
        action="image2image",
        image_urls=[data_uri(image_bytes(8, 8, "gif"), "image/gif")],
    )
    assert "JPEG/PNG/WEBP" in err.allowed
    assert "gif" in str(err.value)


def test_gif_bytes_labelled_png_rejected(image_bytes: Any) -> None:
    rejected(
        "images[0]",
        action="image2image",
        image_urls=[data_uri(image_bytes(8, 8, "gif"), "image/png")],
    )


def test_mime_and_content_mismatch_rejected(image_bytes: Any) -> None:
    err = rejected(
        "images[0]",
        action="image2image",
        image_urls=[data_uri(image_bytes(8, 8, "jpeg"), "image/png")],
    )
    assert "image/png" in str(err.value)


def test_second_bad_image_is_named_by_index(image_bytes: Any) -> None:
    good = data_uri(image_bytes(8, 8, "png"), "image/png")
    rejected("images[1]", action="reference", image_urls=[good, "ftp://x/y.png"])


@pytest.mark.parametrize("uri", ["data:image/png,rawbytes", "data:image/png;base64,@@@@notbase64"])
def test_data_uri_must_be_valid_base64(uri: str) -> None:
    rejected("images[0]", action="image2image", image_urls=[uri])


def _big_png_uri(decoded_size: int) -> str:
    # "iVBORw0KGgo" is the PNG signature in base64; "A" pads with zero bytes (cheap, no decoding)
    chars = decoded_size * 4 // 3
    assert chars * 3 // 4 == decoded_size
    head = "iVBORw0KGgo"
    return "data:image/png;base64," + head + "A" * (chars - len(head))


def test_data_uri_over_30_mb_rejected() -> None:
    err = rejected("images[0]", action="image2image", image_urls=[_big_png_uri(MAX_BYTES + 3)])
    assert "30 MB" in err.allowed
    assert "MB" in str(err.value)
    assert len(str(err)) < 300  # the 40 MB string is not echoed


def test_data_uri_of_exactly_30_mb_accepted() -> None:
    make(action="image2image", image_urls=[_big_png_uri(MAX_BYTES)])


def test_sniff_image_format(image_bytes: Any) -> None:
    assert sniff_image_format(image_bytes(4, 4, "jpeg")) == "jpeg"
    assert sniff_image_format(image_bytes(4, 4, "png")) == "png"
    assert sniff_image_format(image_bytes(4, 4, "webp")) == "webp"
    assert sniff_image_format(image_bytes(4, 4, "gif")) is None
    assert sniff_image_format(b"") is None


def test_check_image_url_direct() -> None:
    check_image_url(URL, 0)
    with pytest.raises(ValidationError) as info:
        check_image_url("ftp://x", 3)
    assert info.value.field == "images[3]"


# -- every error names field, value, allowed -------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "field", "value", "allowed_piece"),
    [
        ({"model": "nope"}, "model", "nope", V45),
        ({"model": "5.0", "action": "edit", "image_urls": refs(1)}, "action", "edit", V45),
        ({"model": "4.5", "resolution": "3K"}, "resolution", "3K", "2K, 4K"),
        ({"model": "5.0", "aspect_ratio": "9:21"}, "aspect_ratio", "9:21", "21:9"),
        ({"model": "4.0", "output_format": "png"}, "output_format", "png", "jpeg"),
        ({"n": 16}, "n", 16, "15"),
        ({"seed": -2}, "seed", -2, "2147483647"),
        ({"prompt": "  "}, "prompt", "  ", "non-empty"),
        ({"action": "edit"}, "images", "0 images", "exactly one"),
    ],
)
def test_error_names_field_value_and_allowed(
    kw: dict[str, Any], field: str, value: object, allowed_piece: str
) -> None:
    err = rejected(field, **kw)
    assert err.value == value
    assert allowed_piece in err.allowed
    text = str(err)
    assert text.startswith(f"{field}=")
    assert repr(value) in text and allowed_piece in text
    assert isinstance(err, ValueError)  # also a ValueError, for generic handlers


# -- derived values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "outputs"),
    [
        ({"model": "4.5"}, 1),
        ({"model": "4.5", "n": 4}, 4),
        ({"model": "4.0", "n": 3}, 3),
        ({"model": "5.0-lite", "n": 15}, 15),
        ({"model": "4.5", "action": "group", "max_images": 6}, 6),
        ({"model": "4.0", "action": "group", "max_images": 2}, 2),
    ],
)
def test_estimate_cost_is_price_times_outputs(kw: dict[str, Any], outputs: int) -> None:
    req = make(**kw)
    assert req.output_count == outputs
    price = catalog.MODELS[req.model].price_per_image_usd
    assert req.estimate_cost() == pytest.approx(outputs * price)


def test_pixel_size_property() -> None:
    assert make(model="4.5", aspect_ratio="16:9").pixel_size == (2560, 1440)
    assert make(model="4.0", resolution="1K", aspect_ratio="9:16").pixel_size == (720, 1280)


def test_payload_of_a_plain_generate() -> None:
    payload = make(model="4.5", n=2, seed=7, aspect_ratio="16:9", resolution="4K").to_payload()
    assert payload == {
        "model": V45,
        "action": "generate",
        "prompt": "a red fox in snow",
        "n": 2,
        "seed": 7,
        "aspect_ratio": "16:9",
        "resolution": "4K",
        "watermark": False,
    }


def test_payload_of_a_group() -> None:
    payload = make(action="group", max_images=5).to_payload()
    assert "n" not in payload
    assert payload["action"] == "group"
    assert payload["sequential_image_generation"] == "auto"
    assert payload["sequential_image_generation_options"] == {"max_images": 5}


def test_payload_with_refs_and_callback() -> None:
    payload = make(
        action="reference", image_urls=refs(2), callback_url="https://hook.test/cb"
    ).to_payload()
    assert payload["image_urls"] == list(refs(2))
    assert payload["callback_url"] == "https://hook.test/cb"
    assert "image_urls" not in make().to_payload()


@pytest.mark.parametrize(("model", "has_format"), [(LITE, True), (V45, False), (V40, False)])
def test_output_format_only_sent_for_5_0_lite(model: str, has_format: bool) -> None:
    payload = make(model=model).to_payload()
    assert ("output_format" in payload) is has_format
    if has_format:
        assert make(model=model, output_format="png").to_payload()["output_format"] == "png"


def test_describe_payload_shortens_data_uris(image_bytes: Any) -> None:
    uri = data_uri(image_bytes(64, 64, "png"), "image/png")
    shown = make(action="image2image", image_urls=[uri]).describe_payload()["image_urls"][0]
    assert len(shown) < 80 and str(len(uri)) in shown


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"model": "5.0-lite", "output_format": "png", "resolution": "3K", "aspect_ratio": "21:9"},
        {"action": "group", "max_images": 7, "seed": 42},
        {"action": "reference", "image_urls": refs(3), "watermark": True},
        {"model": "4.0", "action": "edit", "image_urls": refs(1), "resolution": "1K"},
        {"callback_url": "https://hook.test/x", "n": 3},
    ],
)
def test_from_payload_roundtrip(kw: dict[str, Any]) -> None:
    req = make(**kw)
    again = GenerationRequest.from_payload(req.to_payload())
    assert again == req
    assert again.to_payload() == req.to_payload()


def test_from_payload_ignores_unknown_fields_and_reads_group_options() -> None:
    req = GenerationRequest.from_payload(
        {
            "model": "4.5",
            "prompt": "x",
            "extra": 1,
            "sequential_image_generation": "auto",
            "sequential_image_generation_options": {"max_images": 3},
        }
    )
    assert (req.action, req.max_images) == ("group", 3)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"model": "4.5"}, "prompt"),
        ({"prompt": "x"}, "model"),
        ({"model": "4.5", "prompt": "x", "image_urls": "https://a/b.png"}, "image_urls"),
        ([1, 2], "body"),
    ],
)
def test_from_payload_rejects_bad_bodies(payload: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        GenerationRequest.from_payload(payload)
    assert info.value.field == field


def test_cache_key_is_stable() -> None:
    a = make(seed=5, aspect_ratio="16:9")
    b = make(seed=5, aspect_ratio="16:9", model="4.5")
    assert a.cache_key() == b.cache_key() == make(seed=5, aspect_ratio="16:9").cache_key()
    assert len(a.cache_key()) == 64
    # the callback does not change what is drawn
    assert make(seed=5, aspect_ratio="16:9", callback_url="https://x.test/").cache_key() == (
        a.cache_key()
    )


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a blue fox"},
        {"model": "4.0"},
        {"seed": 6},
        {"aspect_ratio": "1:1"},
        {"resolution": "4K"},
        {"n": 2},
        {"watermark": True},
        {"action": "image2image", "image_urls": refs(1)},
        {"max_images": 3},
    ],
)
def test_cache_key_is_sensitive_to_each_parameter(change: dict[str, Any]) -> None:
    base = make(seed=5, aspect_ratio="16:9")
    assert base.with_changes(**change).cache_key() != base.cache_key()


def test_frozen() -> None:
    req = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.prompt = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.n = 3  # type: ignore[misc]
    assert hash(req) == hash(make())


def test_with_changes_revalidates() -> None:
    req = make(model="4.5")
    assert req.with_changes(n=3).n == 3
    with pytest.raises(ValidationError):
        req.with_changes(resolution="1K")


def test_data_uris_are_hidden_from_repr(image_bytes: Any) -> None:
    uri = data_uri(image_bytes(64, 64, "png"), "image/png")
    assert uri not in repr(make(action="image2image", image_urls=[uri]))
